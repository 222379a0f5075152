"""How ``salesops commissions estimate`` shows its result: a table, CSV or JSON.

The table shows per line the target, the attainment and the multiplier the line was paid at, and
for a line that pays nothing (a gate not met) or is not a plain commission (cap, clawback, draw)
the reason; then totals per rep x period, per rep, per period and in all, the recoverable draw
balance after each period, and the warnings (:mod:`flows.commissions.pay_warnings`).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flows.commissions.balances import deficit_balances
from flows.commissions.draws import draw_balances
from flows.commissions.lines import LINE_COLUMNS, Line
from flows.commissions.pay_warnings import PayWarning
from flows.commissions.payouts import pending_balances
from flows.exports.spreadsheet import safe_cell

ZERO = Decimal("0.00")
TABLE_COLUMNS = (
    "period_month", "rep_id", "deal_id", "line_type", "component", "tier_number", "rate", "multiplier",
    "target_amount", "attainment", "base_amount", "commission_amount", "note",
)  # fmt: skip
_RIGHT = {
    "tier_number",
    "rate",
    "multiplier",
    "target_amount",
    "attainment",
    "base_amount",
    "commission_amount",
}


@dataclass
class Estimate:
    """The estimator's result: statement lines and what to look at."""

    lines: list[Line]
    warnings: list[PayWarning] = field(default_factory=list)

    def totals(self) -> dict[tuple[str, date], Decimal]:
        out: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
        for ln in self.lines:
            out[(ln.rep_id, ln.period_month)] += ln.commission_amount
        return dict(sorted(out.items()))

    def balances(self, of=draw_balances) -> dict[tuple[str, date], Decimal]:
        """A balance after every rep x period of the totals (carried forward): the recoverable
        draw's by default, ``deficit_balances`` or ``pending_balances``."""
        changes = of(self.lines)
        out = {}
        for rep_id, period in self.totals():
            known = [b for (r, p), b in sorted(changes.items()) if r == rep_id and p <= period]
            if known:
                out[(rep_id, period)] = known[-1]
        return out


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def note(ln: Line) -> str:
    """Why a line pays nothing (the gate, a missing target) or what a non-commission line is."""
    if ln.line_type in ("commission", "bonus") and ln.commission_amount != 0:
        return ""
    parts = ln.explanation.split("; ")
    reasons = [p for p in parts if p.startswith(("gate not met", "accelerator"))]
    return "; ".join(reasons) if reasons else ln.explanation


def _sum_by(totals: dict[tuple[str, date], Decimal], index: int) -> dict:
    out: dict = defaultdict(lambda: ZERO)
    for key, amount in totals.items():
        out[key[index]] += amount
    return dict(sorted(out.items()))


def _warning_json(w: PayWarning) -> dict:
    return {
        "code": w.warning_code,
        "period_month": _cell(w.period_month) or None,
        "rep_id": w.rep_id,
        "subject": w.subject,
        "message": w.message,
    }


def _balance_json(balances: dict[tuple[str, date], Decimal]) -> list[dict]:
    return [{"rep_id": r, "period_month": p.isoformat(), "balance": str(b)} for (r, p), b in balances.items()]


def render_json(result: Estimate) -> str:
    totals = result.totals()
    return json.dumps(
        {
            "lines": [
                {c: _cell(v) or None for c, v in zip(LINE_COLUMNS, ln.as_row(), strict=True)}
                for ln in result.lines
            ],
            "totals": [
                {"rep_id": r, "period_month": p.isoformat(), "total_amount": str(t)}
                for (r, p), t in totals.items()
            ],
            "totals_by_rep": [{"rep_id": r, "total_amount": str(t)} for r, t in _sum_by(totals, 0).items()],
            "totals_by_period": [
                {"period_month": p.isoformat(), "total_amount": str(t)} for p, t in _sum_by(totals, 1).items()
            ],
            "grand_total": str(sum(totals.values(), ZERO)),
            "draw_balances": [
                {"rep_id": r, "period_month": p.isoformat(), "balance": str(b)}
                for (r, p), b in result.balances().items()
            ],
            "deficit_balances": _balance_json(result.balances(deficit_balances)),
            "pending_balances": _balance_json(result.balances(pending_balances)),
            "warnings": [_warning_json(w) for w in result.warnings],
        },
        indent=2,
        ensure_ascii=False,
    )


def render_csv(result: Estimate) -> str:
    """Every line with all its columns; cells through :func:`safe_cell` (the file opens in Excel)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LINE_COLUMNS)
    for ln in result.lines:
        writer.writerow([_cell(safe_cell(v)) for v in ln.as_row()])
    return buf.getvalue()


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [
        "  ".join(
            v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def render_table(result: Estimate) -> str:
    rows = [list(TABLE_COLUMNS)] + [
        [note(ln) if c == "note" else _cell(getattr(ln, c)) for c in TABLE_COLUMNS] for ln in result.lines
    ]
    out = _table(rows, {i for i, c in enumerate(TABLE_COLUMNS) if c in _RIGHT})
    totals = result.totals()
    out += ["", "Totals (rep x period):"]
    out += [f"  {period:%Y-%m}  {rep}  {total}" for (rep, period), total in totals.items()]
    out += ["", "Totals per rep:"] + [f"  {rep}  {t}" for rep, t in _sum_by(totals, 0).items()]
    out += ["", "Totals per period:"] + [f"  {p:%Y-%m}  {t}" for p, t in _sum_by(totals, 1).items()]
    out += ["", f"Grand total: {sum(totals.values(), ZERO)}"]
    balances = result.balances()
    if balances:
        out += ["", "Recoverable draw balance (after the period):"]
        out += [f"  {period:%Y-%m}  {rep}  {b}" for (rep, period), b in balances.items()]
    for title, of in (
        ("Deficit balance carried forward (after the period)", deficit_balances),
        ("Pending instalments, earned not yet paid (after the period)", pending_balances),
    ):
        found = result.balances(of)
        if found:
            out += ["", f"{title}:"] + [f"  {period:%Y-%m}  {rep}  {b}" for (rep, period), b in found.items()]
    out += ["", f"Warnings ({len(result.warnings)}):" if result.warnings else "Warnings: none"]
    out += [f"  [{w.warning_code}] {w.message}" for w in result.warnings]
    return "\n".join(out) + "\n"


def render(result: Estimate, fmt: str = "table") -> str:
    """``table`` (for people), ``csv`` (every column) or ``json`` (lines, totals, balances, warnings)."""
    if fmt == "json":
        return render_json(result)
    if fmt == "csv":
        return render_csv(result)
    return render_table(result)
