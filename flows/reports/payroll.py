"""The payroll export attached to the finance summary: one row per rep, as CSV and XLSX.

What payroll pays for a month: the commission lines plus adjustments (ledger lines other than
``commission`` and rows of the adjustments mart), per rep.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import duckdb

from flows.config.settings import Settings
from flows.reports.commission_data import adjustment_rows, commission_sources
from flows.reports.common import columns, dec, dicts

PAYROLL_COLUMNS = [
    "period_month", "rep_id", "rep_name", "email", "team_name", "lines", "base_amount",
    "commission_amount", "adjustment_amount", "payable_amount", "currency",
]  # fmt: skip


def payroll_rows(conn: duckdb.DuckDBPyConnection, settings: Settings, month: date) -> list[dict]:
    """One row per rep: what payroll pays for ``month`` (commission lines + adjustments)."""
    month = month.replace(day=1)
    commissions, dim, _, adjustments = commission_sources(conn)
    base_line = "c.line_type = 'commission'" if "line_type" in columns(conn, commissions) else "true"
    rows = dicts(
        conn,
        f"""
        select c.rep_id, r.rep_name, r.email, r.team_name, count(*) as lines,
               sum(c.base_amount) filter (where {base_line}) as base_amount,
               sum(c.commission_amount) filter (where {base_line}) as commission_amount,
               coalesce(sum(c.commission_amount) filter (where not {base_line}), 0) as other_amount
        from {commissions} as c left join {dim} as r using (rep_id)
        where c.period_month = ?
        group by all order by r.team_name, r.rep_name, c.rep_id
        """,
        [month],
    )
    adj: dict[str, Decimal] = {}
    for a in adjustment_rows(conn, adjustments, month):
        adj[a["rep_id"]] = adj.get(a["rep_id"], Decimal(0)) + dec(a["amount"])
    out = []
    for r in rows:
        extra = adj.pop(r["rep_id"], Decimal(0)) + dec(r["other_amount"])
        out.append(
            {
                "period_month": month.isoformat(),
                **{k: r[k] for k in ("rep_id", "rep_name", "email", "team_name")},
                "lines": int(r["lines"]),
                "base_amount": dec(r["base_amount"]),
                "commission_amount": dec(r["commission_amount"]),
                "adjustment_amount": extra,
                "payable_amount": dec(r["commission_amount"]) + extra,
                "currency": settings.reporting_currency,
            }
        )
    for rep_id, extra in adj.items():  # adjustments for reps without lines
        out.append(
            {
                "period_month": month.isoformat(),
                "rep_id": rep_id,
                "rep_name": None,
                "email": None,
                "team_name": None,
                "lines": 0,
                "base_amount": Decimal(0),
                "commission_amount": Decimal(0),
                "adjustment_amount": extra,
                "payable_amount": extra,
                "currency": settings.reporting_currency,
            }
        )
    return out


def payroll_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PAYROLL_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r[k] is None else str(r[k])) for k in PAYROLL_COLUMNS})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 (Chinese names)


def payroll_xlsx(rows: list[dict], lines: list[dict]) -> bytes:
    """Sheet ``payroll`` (one row per rep) and sheet ``lines`` (every commission line)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "payroll"
    ws.append(PAYROLL_COLUMNS)
    for r in rows:
        ws.append([r[k] for k in PAYROLL_COLUMNS])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    detail = wb.create_sheet("lines")
    if lines:
        names = list(lines[0])
        detail.append(names)
        for line in lines:
            detail.append([str(v) if isinstance(v, date) else v for v in line.values()])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
