"""``salesops commissions estimate``: the engine on credited amounts from a CSV, without any CRM.

Credits CSV (header row; spreadsheet numbering in errors: the header is row 1):

| column | required | meaning |
|---|---|---|
| rep_id | yes | who is credited |
| credit_date | yes | YYYY-MM-DD (close date, or payment date when paying on collection) |
| amount | yes | credited amount in ``currency`` (the whole deal; ``split_share`` is applied) |
| deal_id | no | default ``row<N>`` |
| credit_id | no | default ``<deal_id>`` (give one when a deal credits several reps) |
| currency | no | default the plan currency |
| fx_rate | no | plan-currency units per 1 unit of ``currency``; default 1 |
| split_share | no | share of the deal credited to this rep, default 1 |
| kind | no | ``direct`` (default) or ``rollup`` (a manager's credit for the team) |
| reversed_on | no | YYYY-MM-DD the deal was cancelled/refunded: clawback in that period |
| invoice_date | no | YYYY-MM-DD the deal's first invoice (clawback windows anchored on it) |
| level | no | roll-up level of a ``rollup`` row (1 = the rep's manager); or give ``--hierarchy`` |
| rep_email, role | no | resolve the plan's assignments; role defaults to ``rep`` (a plan file without
  assignments puts every rep on the first plan, in file order, effective on the credit date) |
| product, segment, industry | no | what a SPIF's ``filters`` look at |

Targets CSV: ``rep_id, period (YYYY-MM), target_amount`` and optionally ``hired_on``, ``left_on``
(YYYY-MM-DD; the target and any draw are prorated by the days employed). Rep ids match the
credits' case- and whitespace-insensitively (``Ann`` is ``ann``); the display: :mod:`estimate_view`.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flows.commissions.adjustments import manual_lines
from flows.commissions.engine import calculate
from flows.commissions.estimate_view import Estimate
from flows.commissions.hierarchy import with_hierarchy
from flows.commissions.identity import rep_key
from flows.commissions.lines import Credit, Rep
from flows.commissions.money import CENT, money
from flows.commissions.pay_warnings import pay_warnings
from flows.config.commission_adjustments import read_adjustments
from flows.config.commission_plan import PlanBook


class InputError(ValueError):
    """A credits or targets file is wrong; names the file, row and field."""


def _rows(path: Path, required: tuple[str, ...]):
    if not path.exists():
        raise InputError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        for number, row in enumerate(reader, start=2):
            yield number, {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}


def _dec(value: str, where: str) -> Decimal:
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InputError(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise InputError(f"{where}: {value!r} is not a number")
    return result


def _day(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _level(value: str | None, where: str) -> int:
    if not value:
        return 0
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{where}: {value!r} is not a roll-up level (1, 2, ...)")
    return int(value)


def read_credits(path: Path) -> tuple[list[Credit], dict[str, Rep]]:
    credits: list[Credit] = []
    reps: dict[str, Rep] = {}
    seen: set[str] = set()
    for n, row in _rows(path, ("rep_id", "credit_date", "amount")):

        def where(field: str, n: int = n) -> str:
            return f"{path} row {n}, field {field}"

        rep_id = row.get("rep_id") or ""
        if not rep_id:
            raise InputError(f"{where('rep_id')}: a value is required")
        amount = _dec(row.get("amount", ""), where("amount"))
        fx = _dec(row["fx_rate"], where("fx_rate")) if row.get("fx_rate") else Decimal(1)
        share = _dec(row["split_share"], where("split_share")) if row.get("split_share") else Decimal(1)
        if fx <= 0:
            raise InputError(f"{where('fx_rate')}: must be > 0")
        if share <= 0:
            raise InputError(f"{where('split_share')}: must be > 0")
        kind = row.get("kind") or "direct"
        if kind not in ("direct", "rollup"):
            raise InputError(f"{where('kind')}: {kind!r} is not direct or rollup")
        basis = row.get("basis") or "booking"
        if basis not in ("booking", "collection"):
            raise InputError(f"{where('basis')}: {basis!r} is not booking or collection")
        deal_id = row.get("deal_id") or f"row{n}"
        credit_id = row.get("credit_id") or deal_id
        if credit_id in seen:
            raise InputError(f"{where('credit_id')}: {credit_id!r} appears twice (give credit_id per split)")
        seen.add(credit_id)
        credits.append(
            Credit(
                credit_id=credit_id,
                deal_id=deal_id,
                rep_id=rep_id,
                credit_date=_day(row.get("credit_date", ""), where("credit_date")),
                amount=money(amount * fx * share),
                kind=kind,
                basis=basis,
                level=_level(row.get("level"), where("level")),
                split_share=share,
                original_amount=amount,
                original_currency=row.get("currency") or None,
                fx_rate=fx,
                reversed_on=_day(row["reversed_on"], where("reversed_on"))
                if row.get("reversed_on")
                else None,
                attributes=tuple((k, row[k]) for k in ("product", "segment", "industry") if row.get(k)),
                invoice_date=_day(row["invoice_date"], where("invoice_date"))
                if row.get("invoice_date")
                else None,
            )
        )
        if rep_id not in reps or row.get("rep_email") or row.get("role"):
            reps[rep_id] = Rep(rep_id, row.get("rep_email") or None, row.get("role") or "rep")
    return credits, reps


def read_targets(path: Path, reps: dict[str, Rep]) -> dict[tuple[str, date], Decimal]:
    targets: dict[tuple[str, date], Decimal] = {}
    for n, row in _rows(path, ("rep_id", "period", "target_amount")):
        where = f"{path} row {n}"
        period = _day(f"{row.get('period', '')}-01", f"{where}, field period")
        amount = _dec(row.get("target_amount", ""), f"{where}, field target_amount")
        if amount < 0 or amount != amount.quantize(CENT):
            raise InputError(f"{where}, field target_amount: must be >= 0 with at most 2 decimals")
        rep_id = row["rep_id"]
        if any(rep_key(r) == rep_key(rep_id) and p == period for r, p in targets):
            raise InputError(f"{where}: {rep_id} {period:%Y-%m} appears twice (rep ids ignore case)")
        targets[(rep_id, period)] = amount
        hired = _day(row["hired_on"], f"{where}, field hired_on") if row.get("hired_on") else None
        left = _day(row["left_on"], f"{where}, field left_on") if row.get("left_on") else None
        old = reps.get(rep_id, Rep(rep_id, role="rep"))
        reps[rep_id] = Rep(rep_id, old.email, old.role, hired or old.hired_on, left or old.left_on)
    return targets


def estimate(
    book: PlanBook,
    credits_csv: Path,
    targets_csv: Path | None = None,
    *,
    fiscal_year_start_month: int = 1,
    hierarchy_csv: Path | None = None,
    adjustments_csv: Path | None = None,
) -> Estimate:
    """Statement lines for the credits of a CSV under a plan book - the nightly's engine - and the
    warnings about them (:mod:`flows.commissions.pay_warnings`). With a hierarchy CSV, every level
    above a credited rep gets roll-up credit, as in the nightly."""
    credits, reps = read_credits(Path(credits_csv))
    if hierarchy_csv is not None:
        credits = with_hierarchy(credits, reps, Path(hierarchy_csv))
    targets = read_targets(Path(targets_csv), reps) if targets_csv else {}
    lines = calculate(book, credits, reps, targets, fiscal_year_start_month=fiscal_year_start_month)
    found = pay_warnings(book, credits, reps, targets, lines, targets_need_credits=True)
    if adjustments_csv is not None:  # every period of an estimate is open: each row in its month
        if not Path(adjustments_csv).exists():
            raise InputError(f"{adjustments_csv}: file not found")
        rows = read_adjustments(Path(adjustments_csv))
        manual, unmatched = manual_lines(rows, reps, book.plans[0].currency, str(adjustments_csv))
        lines, found = lines + manual, sorted(set(found + unmatched))
    return Estimate(lines, found)
