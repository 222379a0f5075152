"""The nightly side of commissions: run the engine over the warehouse, period close, adjustments,
payroll export and the reconciliation check.

Tables (schema ``finance``, owned by this module, never by dbt):

* ``finance.commission_lines`` - every statement line of every period as of the last engine run:
  for a closed period exactly its closed snapshot; for open periods the freshly calculated lines
  plus prior-period adjustment lines. ``marts.fct_commissions`` reads it.
* ``finance.closed_statement_lines`` - the immutable snapshot written by ``close_period``; rows
  are only ever inserted, never updated or deleted.
* ``finance.commission_periods`` - one row per closed period (who, when, lines, total).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from flows.commissions.engine import (
    LINE_COLUMNS,
    ZERO,
    Credit,
    Line,
    Rep,
    calculate,
    month_start,
    next_month,
)
from flows.commissions.plan import PlanBook, load_plan_file

SCHEMA = "finance"
LINES = f"{SCHEMA}.commission_lines"
CLOSED = f"{SCHEMA}.closed_statement_lines"
PERIODS = f"{SCHEMA}.commission_periods"

_COLUMN_TYPES = {
    "commission_line_id": "varchar not null",
    "line_type": "varchar not null",
    "rep_id": "varchar not null",
    "period_month": "date not null",
    "deal_id": "varchar",
    "credit_id": "varchar",
    "credit_kind": "varchar",
    "credit_basis": "varchar",
    "credit_date": "date",
    "plan_id": "varchar",
    "plan_version": "integer",
    "component": "varchar",
    "component_type": "varchar",
    "tier_position": "varchar",
    "tier_number": "integer",
    "band_lower": "decimal(18,4)",
    "band_upper": "decimal(18,4)",
    "rate": "decimal(9,6)",
    "weight": "decimal(9,4)",
    "multiplier": "decimal(9,4)",
    "credit_amount": "decimal(18,2)",
    "split_share": "decimal(9,6)",
    "original_amount": "decimal(18,2)",
    "original_currency": "varchar",
    "fx_rate": "decimal(18,8)",
    "target_amount": "decimal(18,2)",
    "attainment": "decimal(18,6)",
    "running_before": "decimal(18,2)",
    "running_after": "decimal(18,2)",
    "base_amount": "decimal(18,2)",
    "commission_amount": "decimal(18,2) not null",
    "currency": "varchar not null",
    "related_line_id": "varchar",
    "source_period": "date",
    "explanation": "varchar not null",
}
assert tuple(_COLUMN_TYPES) == LINE_COLUMNS


class ReconciliationError(RuntimeError):
    """The per-run reconciliation found credits, lines or statements that do not add up."""


class CloseError(RuntimeError):
    """A period cannot be closed (already closed, or nothing calculated)."""


def _columns_ddl() -> str:
    return ", ".join(f"{c} {t}" for c, t in _COLUMN_TYPES.items())


def ensure_ledger(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the finance tables if they do not exist (never alters or empties them)."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(
        f"create table if not exists {LINES} ({_columns_ddl()}, run_date date, calculated_at timestamptz)"
    )
    conn.execute(
        f"create table if not exists {CLOSED} ({_columns_ddl()}, run_date date, calculated_at timestamptz, "
        "closed_at timestamptz not null, primary key (commission_line_id))"
    )
    conn.execute(
        f"create table if not exists {PERIODS} (period_month date primary key, status varchar not null, "
        "closed_at timestamptz not null, closed_by varchar, line_count integer not null, "
        "total_amount decimal(18,2) not null)"
    )


def _find(conn, schema: str, table: str) -> str | None:
    for s in (schema, f"main_{schema}"):
        hit = conn.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [s, table]
        ).fetchone()
        if hit:
            return f'"{s}"."{table}"'
    return None


def _dict_rows(conn, sql: str, params=None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _line(row: dict) -> Line:
    return Line(**{c: row[c] for c in LINE_COLUMNS})


def closed_periods(conn) -> set[date]:
    ensure_ledger(conn)
    return {r[0] for r in conn.execute(f"select period_month from {PERIODS}").fetchall()}


def first_open_after(period: date, closed: set[date]) -> date:
    p = next_month(period)
    while p in closed:
        p = next_month(p)
    return p


def read_inputs(conn) -> tuple[list[Credit], dict[str, Rep], dict[tuple[str, date], Decimal]]:
    """Credits (``intermediate.int_credit_lines``), reps and their monthly targets, already
    prorated by the targets mart (``intermediate.int_commission_rep_months``), as dbt built them."""
    credits_table = _find(conn, "intermediate", "int_credit_lines")
    months_table = _find(conn, "intermediate", "int_commission_rep_months")
    if credits_table is None or months_table is None:
        raise RuntimeError(
            "run dbt first: intermediate.int_credit_lines / int_commission_rep_months are missing"
        )
    credits = [
        Credit(
            credit_id=r["credit_id"],
            deal_id=r["deal_id"],
            rep_id=r["rep_id"],
            credit_date=r["credit_date"],
            amount=r["credit_amount"],
            kind=r["credit_kind"],
            split_share=r["split_share"],
            original_amount=r["original_amount"],
            original_currency=r["original_currency"],
            fx_rate=r["fx_rate"],
            basis=r["credit_basis"],
            reversed_on=r["reversed_on"],
        )
        for r in _dict_rows(conn, f"select * from {credits_table} order by credit_id")
    ]
    reps: dict[str, Rep] = {}
    targets: dict[tuple[str, date], Decimal] = {}
    for r in _dict_rows(conn, f"select * from {months_table}"):
        reps[r["rep_id"]] = Rep(r["rep_id"], r["email"], r["role"], r["hired_on"], r["left_on"])
        if r["target_amount"] is not None:
            targets[(r["rep_id"], r["period_month"])] = r["target_amount"]
    return credits, reps, targets


def _cause(old: Line | None, new: Line | None) -> str:
    if new is None:
        return (
            f"no longer calculated: the inputs of {old.commission_line_id} changed after close "
            f"(deal, plan, assignment, hierarchy or rate); reverses the closed {old.commission_amount}"
        )
    if old is None:
        return f"new line after close: {new.explanation}"
    changed = [
        f"{f} {getattr(old, f)} -> {getattr(new, f)}"
        for f in (
            "credit_amount",
            "original_amount",
            "fx_rate",
            "plan_version",
            "tier_number",
            "rate",
            "multiplier",
            "target_amount",
            "running_before",
            "running_after",
            "base_amount",
            "commission_amount",
        )
        if getattr(old, f) != getattr(new, f)
    ]
    return "recalculated after close: " + "; ".join(changed)


def adjustments(computed: list[Line], closed_lines: list[Line], closed: set[date]) -> list[Line]:
    """Prior-period adjustment lines: for every closed period, recalculated minus closed minus
    adjustments already posted (and closed) for the same line; posted in the first open period
    after the closed one, linked to the line (``related_line_id``) and explaining the cause."""
    snap: dict[tuple[date, str], Line] = {}
    already: dict[tuple[date, str], Decimal] = defaultdict(lambda: ZERO)
    for ln in closed_lines:
        if ln.line_type == "adjustment":
            already[(ln.source_period, ln.related_line_id)] += ln.commission_amount
        else:
            snap[(ln.period_month, ln.commission_line_id)] = ln
    now = {(ln.period_month, ln.commission_line_id): ln for ln in computed if ln.period_month in closed}
    out: list[Line] = []
    for key in sorted(set(snap) | set(now)):
        period, line_id = key
        old, new = snap.get(key), now.get(key)
        diff = (
            (new.commission_amount if new else ZERO) - (old.commission_amount if old else ZERO) - already[key]
        )
        if diff == 0:
            continue
        post = first_open_after(period, closed)
        ref = new or old
        out.append(
            replace(
                ref,
                commission_line_id=f"adj:{post:%Y-%m}:{line_id}",
                line_type="adjustment",
                period_month=post,
                commission_amount=diff,
                related_line_id=line_id,
                source_period=period,
                explanation=f"prior-period adjustment for {period:%Y-%m}: {_cause(old, new)}",
            )
        )
    return out


def build_ledger(
    book: PlanBook,
    credits: list[Credit],
    reps: dict[str, Rep],
    targets: dict[tuple[str, date], Decimal],
    closed_lines: list[Line],
    closed: set[date],
    *,
    run_date: date,
    cancelled_on: dict[str, date] | None = None,
    currency: str | None = None,
    fiscal_year_start_month: int = 1,
) -> list[Line]:
    """All periods' lines: closed periods as snapshotted, open periods recalculated, plus
    adjustments. A credit that was paid in a closed period and has since disappeared (the deal was
    cancelled, lost or deleted) is kept for its period's attainment and clawed back - its closed
    lines negated - in the period of the cancellation (``cancelled_on[credit_id]``, default
    ``run_date``), moved to the first open period if that one is closed."""
    cancelled_on = cancelled_on or {}
    present = {c.credit_id for c in credits}
    gone: dict[str, Line] = {}
    for ln in closed_lines:
        if ln.line_type == "commission" and ln.credit_id and ln.credit_id not in present:
            gone.setdefault(ln.credit_id, ln)
    # a clawback already closed stays in the period it was closed in (never posted twice)
    clawed = {ln.credit_id: ln.period_month for ln in closed_lines if ln.line_type == "clawback"}
    all_credits = []
    for c in credits:  # a cancellation dated in a closed period is clawed back in the next open one
        if c.credit_id in clawed:
            c = replace(c, reversed_on=clawed[c.credit_id])
        elif c.reversed_on is not None and month_start(c.reversed_on) in closed:
            c = replace(c, reversed_on=first_open_after(month_start(c.reversed_on), closed))
        all_credits.append(c)
    for cid, ln in sorted(gone.items()):
        when = month_start(cancelled_on.get(cid, run_date))
        if when <= ln.period_month:
            when = next_month(ln.period_month)
        if cid in clawed:
            when = clawed[cid]
        elif when in closed:
            when = first_open_after(when, closed)
        all_credits.append(
            Credit(
                credit_id=cid,
                deal_id=ln.deal_id,
                rep_id=ln.rep_id,
                credit_date=ln.credit_date,
                amount=ln.credit_amount,
                kind=ln.credit_kind or "direct",
                split_share=ln.split_share or Decimal(1),
                original_amount=ln.original_amount,
                original_currency=ln.original_currency,
                fx_rate=ln.fx_rate,
                reversed_on=when,
                basis=ln.credit_basis or "booking",
            )
        )
    computed = calculate(
        book,
        all_credits,
        reps,
        targets,
        currency=currency,
        prorate_targets=False,
        fiscal_year_start_month=fiscal_year_start_month,
    )
    # a clawback reverses at most what was paid: the closed amount of the line (a clawback of a
    # credit's part of a cap line keeps the engine's attribution; a closed period recalculated
    # differently is settled by its adjustment lines)
    paid = {ln.commission_line_id: ln.commission_amount for ln in closed_lines}
    for ln in computed:
        if (
            ln.line_type == "clawback"
            and ln.related_line_id in paid
            and ln.commission_line_id == f"clawback:{ln.related_line_id}"
        ):
            ln.commission_amount = -paid[ln.related_line_id]
    ledger = [ln for ln in closed_lines]
    ledger += [ln for ln in computed if ln.period_month not in closed]
    ledger += adjustments(computed, closed_lines, closed)
    return ledger


def _fiscal_year_start_month(settings) -> int:
    """The fiscal year of the yearly caps: ``config/settings.yml`` (the file the targets use),
    else the pipeline settings' ``fiscal_year_start_month``, else January."""
    from flows.config.company_settings import read_settings

    config_dir = Path(settings.config_path)
    if (config_dir / "settings.yml").exists():
        return int(read_settings(config_dir)["fiscal_year_start_month"])
    return int(getattr(settings, "fiscal_year_start_month", 1) or 1)


def run_engine(conn: duckdb.DuckDBPyConnection, settings, run_date: date | None = None) -> int:
    """Recalculate every period from dbt's credits and write ``finance.commission_lines``.

    Call after dbt has built ``int_credit_lines`` and ``int_commission_rep_months`` and before
    ``marts.fct_commissions`` is (re)built. Returns the number of lines written."""
    run_date = run_date or date.today()
    book = load_plan_file(Path(settings.config_path) / "commission_plan.yml")
    credits, reps, targets = read_inputs(conn)
    ensure_ledger(conn)
    closed = closed_periods(conn)
    closed_lines = [_line(r) for r in _dict_rows(conn, f"select * from {CLOSED}")]
    cancelled_on: dict[str, date] = {}
    deals = _find(conn, "marts", "fct_deals")
    if deals and closed_lines:
        # when a paid deal stopped being won: its last modification, as the CRM reports it
        for deal_id, modified in conn.execute(
            f"select deal_id, cast(modified_at as date) from {deals} where not is_won"
        ).fetchall():
            if modified is not None:
                cancelled_on[deal_id] = modified
    by_credit = {ln.credit_id: cancelled_on.get(ln.deal_id) for ln in closed_lines if ln.credit_id}
    ledger = build_ledger(
        book,
        credits,
        reps,
        targets,
        closed_lines,
        closed,
        run_date=run_date,
        cancelled_on={k: v for k, v in by_credit.items() if v is not None},
        currency=getattr(settings, "reporting_currency", None),
        fiscal_year_start_month=_fiscal_year_start_month(settings),
    )
    write_lines(conn, ledger, run_date)
    return len(ledger)


def write_lines(conn, lines: list[Line], run_date: date) -> None:
    ensure_ledger(conn)
    now = datetime.now(UTC)
    conn.execute("begin transaction")
    try:
        conn.execute(f"delete from {LINES}")
        if lines:
            # values travel as text and are cast by the insert to the column types: exact decimals
            frame = pd.DataFrame(
                [[None if v is None else str(v) for v in (*ln.as_row(), run_date, now)] for ln in lines],
                columns=[*LINE_COLUMNS, "run_date", "calculated_at"],
                dtype=object,
            )
            conn.register("_commission_lines_rows", frame)
            try:
                conn.execute(f"insert into {LINES} by name select * from _commission_lines_rows")
            finally:
                conn.unregister("_commission_lines_rows")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def close_period(conn: duckdb.DuckDBPyConnection, period: date, closed_by: str | None = None) -> int:
    """Snapshot the period's current statement lines (``finance.commission_lines``, as of the last
    engine run) into ``finance.closed_statement_lines``. Insert-only: a closed period cannot be
    closed again and its lines are never updated. Returns the number of lines snapshotted."""
    period = month_start(period)
    ensure_ledger(conn)
    if period in closed_periods(conn):
        raise CloseError(f"period {period:%Y-%m} is already closed")
    count, total = conn.execute(
        f"select count(*), coalesce(sum(commission_amount), 0) from {LINES} where period_month = ?", [period]
    ).fetchone()
    now = datetime.now(UTC)
    conn.execute("begin transaction")
    try:
        conn.execute(f"insert into {CLOSED} select *, ? from {LINES} where period_month = ?", [now, period])
        conn.execute(
            f"insert into {PERIODS} values (?, 'closed', ?, ?, ?, ?)", [period, now, closed_by, count, total]
        )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return int(count)


# ---------------------------------------------------------------------------------------------
# payroll export
# ---------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "period_month",
    "rep_id",
    "rep_name",
    "email",
    "currency",
    "commission",
    "bonus",
    "caps",
    "clawbacks",
    "adjustments",
    "draw",
    "draw_recovery",
    "total_payable",
    "line_count",
    "period_status",
)
_BUCKET = {
    "commission": "commission",
    "bonus": "bonus",
    "cap": "caps",
    "clawback": "clawbacks",
    "adjustment": "adjustments",
    "draw": "draw",
    "draw_recovery": "draw_recovery",
}


def payroll_rows(conn, period: date) -> list[dict]:
    """One row per rep of the period: amounts per line type and the total payable."""
    period = month_start(period)
    ensure_ledger(conn)
    status = "closed" if period in closed_periods(conn) else "open"
    source = CLOSED if status == "closed" else LINES
    reps_table = _find(conn, "marts", "dim_sales_reps")
    names = {}
    if reps_table:
        names = {
            r[0]: (r[1], r[2])
            for r in conn.execute(f"select rep_id, rep_name, email from {reps_table}").fetchall()
        }
    rows: dict[str, dict] = {}
    for rep_id, line_type, currency, amount, n in conn.execute(
        f"select rep_id, line_type, currency, sum(commission_amount), count(*) from {source} "
        "where period_month = ? group by 1, 2, 3 order by 1, 2",
        [period],
    ).fetchall():
        row = rows.setdefault(
            rep_id,
            {
                "period_month": period,
                "rep_id": rep_id,
                "rep_name": names.get(rep_id, (None, None))[0],
                "email": names.get(rep_id, (None, None))[1],
                "currency": currency,
                **{b: Decimal("0.00") for b in _BUCKET.values()},
                "total_payable": Decimal("0.00"),
                "line_count": 0,
                "period_status": status,
            },
        )
        row[_BUCKET[line_type]] += amount
        row["total_payable"] += amount
        row["line_count"] += n
    return list(rows.values())


def export_period(conn, period: date, out_dir: Path, *, xlsx: bool = False) -> list[Path]:
    """Write ``payroll_<YYYY-MM>.csv`` (and ``.xlsx`` with a Lines sheet) into ``out_dir``."""
    period = month_start(period)
    rows = payroll_rows(conn, period)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"payroll_{period:%Y-%m}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for r in rows:
            writer.writerow([r[c] for c in EXPORT_COLUMNS])
    paths = [path]
    if xlsx:
        from openpyxl import Workbook

        status = rows[0]["period_status"] if rows else "open"
        source = CLOSED if status == "closed" else LINES
        book = Workbook()
        sheet = book.active
        sheet.title = "Payroll"
        sheet.append(list(EXPORT_COLUMNS))
        for r in rows:
            sheet.append([r[c] for c in EXPORT_COLUMNS])
        lines = book.create_sheet("Lines")
        cur = conn.execute(
            f"select {', '.join(LINE_COLUMNS)} from {source} where period_month = ? "
            "order by rep_id, commission_line_id",
            [period],
        )
        lines.append(list(LINE_COLUMNS))
        for row in cur.fetchall():
            lines.append(list(row))
        for ws in (sheet, lines):
            for col in ws.iter_cols(min_row=2):
                for cell in col:
                    if isinstance(cell.value, Decimal):
                        cell.number_format = (
                            "#,##0.00" if cell.value == cell.value.quantize(Decimal("0.01")) else "0.000000"
                        )
        xpath = out_dir / f"payroll_{period:%Y-%m}.xlsx"
        book.save(xpath)
        paths.append(xpath)
    return paths


# ---------------------------------------------------------------------------------------------
# reconciliation
# ---------------------------------------------------------------------------------------------


def reconcile(conn) -> list[str]:
    """Failures of the per-period reconciliation (empty = reconciled):

    1. per period and credit basis: Σ credited direct amounts = won (booking) or collected
       (collection) revenue x split shares - revenue splits add up to the sale, overlay credits
       are Σ revenue x overlay share (``intermediate.int_credit_reconciliation``, which dbt builds
       with the credits; without it, bookings are checked against ``fct_deals`` directly);
    2. per open period, plan and tiered/flat component: Σ base_amount of the commission lines =
       Σ credited amounts of the credits on that plan (every credited unit is paid in exactly one
       band);
    3. Σ statement lines = Σ statement totals per period (``fct_commission_statements``).
    """
    failures: list[str] = []
    credits = _find(conn, "intermediate", "int_credit_lines")
    recon = _find(conn, "intermediate", "int_credit_reconciliation")
    deals = _find(conn, "marts", "fct_deals")
    if recon:
        for period, basis, credited, expected, revenue, overlay in conn.execute(f"""
            select period_month, credit_basis, credited_amount, expected_amount, won_amount,
                   overlay_expected
            from {recon} where difference <> 0 order by 1, 2
        """).fetchall():
            what = "won" if basis == "booking" else "collected"
            failures.append(
                f"{period:%Y-%m} {basis}: credited {credited} <> {what} revenue x split shares {expected} "
                f"(revenue {revenue} + overlay {overlay})"
            )
    elif credits and deals:
        for period, credited, won in conn.execute(f"""
            with c as (select period_month, sum(credit_amount) as credited from {credits}
                       where credit_kind = 'direct' and credit_basis = 'booking' group by 1),
                 d as (select cast(date_trunc('month', close_date) as date) as period_month,
                              sum(amount_reporting) as won
                       from {deals} where is_won and close_date is not null group by 1)
            select coalesce(c.period_month, d.period_month), coalesce(credited, 0), coalesce(won, 0)
            from c full outer join d on c.period_month = d.period_month
            where coalesce(credited, 0) <> coalesce(won, 0) order by 1
        """).fetchall():
            failures.append(f"{period:%Y-%m}: credited {credited} <> won revenue x split shares {won}")
    ensure_ledger(conn)
    if credits:
        for period, plan_id, component, base, credited in conn.execute(f"""
            with l as (
                select period_month, plan_id, component, credit_id, sum(base_amount) as base,
                       max(credit_amount) as credited
                from {LINES}
                where line_type = 'commission' and credit_kind = 'direct'
                  and period_month not in (select period_month from {PERIODS})
                group by 1, 2, 3, 4
            )
            select period_month, plan_id, component, sum(base), sum(credited) from l
            group by 1, 2, 3 having sum(base) <> sum(credited) order by 1, 2, 3
        """).fetchall():
            failures.append(
                f"{period:%Y-%m} {plan_id} {component}: lines' base {base} <> credited {credited}"
            )
    statements = _find(conn, "marts", "fct_commission_statements")
    lines = _find(conn, "marts", "fct_commissions")
    if statements and lines:
        for period, a, b in conn.execute(f"""
            with l as (select period_month, sum(commission_amount) as s from {lines} group by 1),
                 t as (select period_month, sum(total_amount) as s from {statements} group by 1)
            select coalesce(l.period_month, t.period_month), l.s, t.s
            from l full outer join t on l.period_month = t.period_month
            where l.s is distinct from t.s
        """).fetchall():
            failures.append(f"{period:%Y-%m}: Σ lines {a} <> Σ statement totals {b}")
    return failures


# ---------------------------------------------------------------------------------------------
# the nightly step
# ---------------------------------------------------------------------------------------------

#: what dbt must rebuild after the engine wrote ``finance.commission_lines``
DBT_SELECT_AFTER_ENGINE = "fct_commissions+"


def refresh_commissions(settings, run_date: date, *, in_prefect: bool = False) -> int:
    """The nightly (and monthly) commission step, to call right after ``dbt build`` and before
    the marts data gate: run the engine over the credits dbt just built, rebuild
    ``fct_commissions`` and everything downstream of it, then run :func:`reconcile` and raise
    :class:`ReconciliationError` naming what does not add up. Returns the number of ledger lines."""
    from flows.warehouse.database import Warehouse
    from flows.warehouse.dbt_runner import run_dbt

    with Warehouse(settings.warehouse_path).connect() as conn:
        count = run_engine(conn, settings, run_date)
    run_dbt(
        settings, ["build", "--select", DBT_SELECT_AFTER_ENGINE], run_date=run_date, in_prefect=in_prefect
    )
    with Warehouse(settings.warehouse_path).connect() as conn:
        failures = reconcile(conn)
    if failures:
        shown = "; ".join(failures[:5]) + (f"; ... ({len(failures)} in all)" if len(failures) > 5 else "")
        raise ReconciliationError(f"commissions do not reconcile: {shown}")
    return count
