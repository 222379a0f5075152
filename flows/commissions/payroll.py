"""Payroll export: one row per rep and period (amounts per line type, total payable) as CSV and,
optionally, an Excel workbook with the period's lines."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from flows.commissions.lines import LINE_COLUMNS
from flows.commissions.money import month_start
from flows.commissions.tables import CLOSED, LINES, closed_periods, ensure_ledger, find_table

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
    reps_table = find_table(conn, "marts", "dim_sales_reps")
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
