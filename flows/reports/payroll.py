"""The payroll export of a month, the one file finance pays from: ``payroll_<YYYY-MM>.csv`` and
``.xlsx``. ``salesops commissions export`` writes it; the finance summary attaches the same bytes.

One row per rep (and currency): the amounts per line type, the total payable, the recoverable
draw balance after the month and whether the month is ``closed`` or still ``provisional``. A
closed month is read from its insert-only snapshot (``finance.closed_statement_lines``), an open
one from ``marts.fct_commissions`` (or, without dbt, ``finance.commission_lines``). Rows of an
optional ``marts.fct_commission_adjustments`` mart count as adjustments. Both files end with a
totals row; cells go through :func:`flows.exports.spreadsheet.safe_cell` (docs/commission_plans.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from flows.exports.spreadsheet import csv_bytes, xlsx_bytes
from flows.quality.tables import find_table
from flows.reports.commission_data import adjustment_rows
from flows.reports.common import columns, dec, dicts

#: the amount column each ledger line type is summed into (every line type the engine writes,
#: flows/commissions; a line type not here is an error, never folded into another column)
LINE_TYPE_COLUMNS = {
    "commission": "commission_amount",
    "bonus": "bonus_amount",
    "cap": "cap_amount",
    "clawback": "clawback_amount",
    "adjustment": "adjustment_amount",
    "draw": "draw_amount",
    "draw_recovery": "draw_recovery_amount",
    # deficit carry-forward (flows/commissions/balances.py): + carried, - recovered / written off
    "deficit_carry": "deficit_amount",
    "deficit_recovery": "deficit_amount",
    "deficit_write_off": "deficit_amount",
    # payout schedules (flows/commissions/payouts.py): - held back, + released, 0.00 cancelled
    "deferral": "deferred_amount",
    "release": "deferred_amount",
    "pending_cancel": "deferred_amount",
}
#: the amount columns, in file order; they add up to ``payable_amount``
AMOUNT_COLUMNS = tuple(dict.fromkeys(LINE_TYPE_COLUMNS.values()))
PAYROLL_COLUMNS = (
    "period_month", "period_status", "rep_id", "rep_name", "email", "team_name", "currency",
    "line_count", *AMOUNT_COLUMNS, "payable_amount", "draw_balance",
)  # fmt: skip
TOTAL_LABEL = "TOTAL"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Ledger:
    """Where a month's lines are read from, and the month's status."""

    lines: str  # the month's lines
    history: str  # every month's lines (for the draw balance)
    status: str  # closed | provisional


def _closed(conn: duckdb.DuckDBPyConnection, month: date) -> bool:
    periods = find_table(conn, "finance.commission_periods")
    if periods is None:
        return False
    return conn.execute(f"select count(*) from {periods} where period_month = ?", [month]).fetchone()[0] > 0


def ledger_for(conn: duckdb.DuckDBPyConnection, month: date) -> Ledger:
    """The tables to read ``month`` from (LookupError when there are none)."""
    mart = find_table(conn, "marts.fct_commissions") or find_table(conn, "finance.commission_lines")
    if mart is None:
        raise LookupError("no commission lines: marts.fct_commissions / finance.commission_lines are missing")
    if _closed(conn, month):
        return Ledger(find_table(conn, "finance.closed_statement_lines"), mart, "closed")
    return Ledger(mart, mart, "provisional")


def period_status(conn: duckdb.DuckDBPyConnection, month: date) -> str:
    """``closed`` once ``commissions close`` (or the monthly flow) closed it, else ``provisional``."""
    return "closed" if _closed(conn, month.replace(day=1)) else "provisional"


def _rep_columns(conn) -> tuple[str, str]:
    """The reps table and its name columns (blank names when the ledger is read without dbt's marts)."""
    dim = find_table(conn, "marts.dim_sales_reps")
    if dim is None:
        return "(select null as rep_id)", "null as rep_name, null as email, null as team_name"
    return dim, "r.rep_name, r.email, r.team_name"


def _draw_balances(conn, ledger: Ledger, month: date) -> dict[str, Decimal]:
    """Recoverable draw balance per rep after ``month``: recoverable top-ups minus recoveries so far."""
    return {
        rep_id: dec(balance)
        for rep_id, balance in conn.execute(
            f"select rep_id, sum(commission_amount) from {ledger.history} "
            "where component_type = 'recoverable_draw' and period_month <= ? group by 1",
            [month],
        ).fetchall()
    }


def draw_balances(conn: duckdb.DuckDBPyConnection, month: date) -> dict[str, Decimal]:
    """Recoverable draw balance per rep after ``month`` (reps without one are left out)."""
    try:
        ledger = ledger_for(conn, month.replace(day=1))
    except LookupError:
        return {}
    return {r: b for r, b in _draw_balances(conn, ledger, month.replace(day=1)).items() if b}


def _new_row(month: date, status: str, rep_id: str, currency: str, names: dict) -> dict:
    return {
        "period_month": month,
        "period_status": status,
        "rep_id": rep_id,
        **{k: names.get(k) for k in ("rep_name", "email", "team_name")},
        "currency": currency,
        "line_count": 0,
        **{c: Decimal("0.00") for c in AMOUNT_COLUMNS},
        "payable_amount": Decimal("0.00"),
        "draw_balance": None,
        # not a file column: the amount per line type, for the finance summary's reconciliation
        "line_type_amounts": {},
    }


def payroll_rows(conn: duckdb.DuckDBPyConnection, month: date, currency: str = "USD") -> list[dict]:
    """One row per rep (and currency) of ``month``: amounts per line type and the total payable.
    ``currency`` is used for lines (or adjustments) that carry none."""
    month = month.replace(day=1)
    ledger = ledger_for(conn, month)
    dim, names_sql = _rep_columns(conn)
    found = dicts(
        conn,
        f"""
        select c.rep_id, c.line_type, coalesce(c.currency, ?) as currency, {names_sql},
               count(*) as line_count, sum(c.commission_amount) as amount
        from {ledger.lines} as c left join {dim} as r using (rep_id)
        where c.period_month = ?
        group by all order by team_name nulls last, rep_name nulls last, rep_id, line_type
        """,
        [currency, month],
    )
    rows: dict[tuple[str, str], dict] = {}
    for f in found:
        row = rows.setdefault(
            (f["rep_id"], f["currency"]), _new_row(month, ledger.status, f["rep_id"], f["currency"], f)
        )
        row[_amount_column(f["line_type"], f["rep_id"], month, ledger.lines)] += dec(f["amount"])
        _add_line_type(row, f["line_type"], dec(f["amount"]))
        row["payable_amount"] += dec(f["amount"])
        row["line_count"] += int(f["line_count"])
    _add_adjustment_mart(conn, month, ledger.status, currency, rows)
    balances = _draw_balances(conn, ledger, month)
    for (rep_id, _), row in rows.items():
        row["draw_balance"] = balances.get(rep_id)
    return list(rows.values())


def _amount_column(line_type: str | None, rep_id: str, month: date, table: str) -> str:
    """The payroll column of a ledger line type; ValueError naming it (and where it is) when there is
    none, so a new line type is never paid under another column's name."""
    try:
        return LINE_TYPE_COLUMNS[line_type]
    except KeyError:
        raise ValueError(
            f"{table}: rep {rep_id}, {month:%Y-%m}: line_type {line_type!r} has no payroll column "
            f"(known: {', '.join(LINE_TYPE_COLUMNS)})"
        ) from None


def _add_adjustment_mart(conn, month: date, status: str, currency: str, rows: dict) -> None:
    """Rows of the optional adjustments mart: adjustments of the rep's row (or a row of their own)."""
    from flows.reports.commission_data import commission_sources

    try:
        adjustments = commission_sources(conn)[3]
    except LookupError:
        adjustments = None
    for a in adjustment_rows(conn, adjustments, month):
        key = next((k for k in rows if k[0] == a["rep_id"]), (a["rep_id"], currency))
        row = rows.setdefault(key, _new_row(month, status, a["rep_id"], currency, {}))
        row["adjustment_amount"] += dec(a["amount"])
        row["payable_amount"] += dec(a["amount"])
        _add_line_type(row, "adjustment", dec(a["amount"]))


def _add_line_type(row: dict, line_type: str, amount: Decimal) -> None:
    """Keep the amount per line type too: a payroll column nets two directions (deficit carried and
    recovered, instalments held back and released) that the finance summary's reconciliation shows apart."""
    row["line_type_amounts"][line_type] = row["line_type_amounts"].get(line_type, Decimal("0.00")) + amount


def totals_rows(rows: list[dict]) -> list[dict]:
    """One totals row per currency (label ``TOTAL`` in ``rep_id``): sums of the amounts and lines."""
    out: dict[str, dict] = {}
    for r in rows:
        total = out.setdefault(
            r["currency"],
            {c: None for c in PAYROLL_COLUMNS}
            | {
                "period_month": r["period_month"],
                "period_status": r["period_status"],
                "rep_id": TOTAL_LABEL,
                "currency": r["currency"],
                "line_count": 0,
                **{c: Decimal("0.00") for c in (*AMOUNT_COLUMNS, "payable_amount")},
            },
        )
        for c in ("line_count", *AMOUNT_COLUMNS, "payable_amount"):
            total[c] += r[c]
    return [out[c] for c in sorted(out)]


def payroll_csv(rows: list[dict]) -> bytes:
    """The CSV: header, one row per rep, the totals row(s); UTF-8 with BOM (Excel reads Chinese names)."""
    body = [[r[c] for c in PAYROLL_COLUMNS] for r in [*rows, *totals_rows(rows)]]
    return csv_bytes(PAYROLL_COLUMNS, body)


def payroll_xlsx(rows: list[dict], lines: list[dict]) -> bytes:
    """Sheet ``payroll`` (one row per rep, totals) and sheet ``lines`` (every line of the month, totals)."""
    totals = [[t[c] for c in PAYROLL_COLUMNS] for t in totals_rows(rows)]
    names = list(lines[0]) if lines else ["commission_line_id", "rep_id", "commission_amount"]
    line_total: list = [TOTAL_LABEL] + [None] * (len(names) - 1)
    if "commission_amount" in names:
        amounts = (dec(x["commission_amount"]) for x in lines)
        line_total[names.index("commission_amount")] = sum(amounts, Decimal("0.00"))
    return xlsx_bytes(
        [
            ("payroll", PAYROLL_COLUMNS, [[r[c] for c in PAYROLL_COLUMNS] for r in rows], totals),
            ("lines", names, [list(x.values()) for x in lines], [line_total]),
        ]
    )


def month_lines(conn: duckdb.DuckDBPyConnection, month: date) -> list[dict]:
    """Every statement line of ``month``, from the same table as the payroll rows."""
    ledger = ledger_for(conn, month.replace(day=1))
    # which of the ledger tables it is (the engine's tables carry run bookkeeping, the mart does not)
    bookkeeping = sorted({"run_date", "calculated_at", "closed_at"} & columns(conn, ledger.lines))
    drop = f" exclude ({', '.join(bookkeeping)})" if bookkeeping else ""
    return dicts(
        conn,
        f"select *{drop} from {ledger.lines} where period_month = ? order by rep_id, commission_line_id",
        [month.replace(day=1)],
    )


def payroll_files(
    conn: duckdb.DuckDBPyConnection, month: date, rows: list[dict] | None = None, currency: str = "USD"
) -> list[tuple[str, bytes, str]]:
    """``(name, bytes, mime)`` of ``payroll_<YYYY-MM>.csv`` and ``.xlsx``: the one payroll export
    (``rows``: :func:`payroll_rows` of the month, when the caller has them already)."""
    month = month.replace(day=1)
    rows = payroll_rows(conn, month, currency) if rows is None else rows
    return [
        (f"payroll_{month:%Y-%m}.csv", payroll_csv(rows), "text/csv"),
        (f"payroll_{month:%Y-%m}.xlsx", payroll_xlsx(rows, month_lines(conn, month)), XLSX_MIME),
    ]


def export_period(
    conn: duckdb.DuckDBPyConnection, month: date, out_dir: Path, currency: str = "USD"
) -> list[Path]:
    """Write the payroll export of ``month`` into ``out_dir`` (the files the finance summary attaches)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data, _ in payroll_files(conn, month, currency=currency):
        path = out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        paths.append(path)
    return paths
