"""Where the commission reports read from: the commission ledger, reps, deals and adjustments marts.

Shared by the statements (:mod:`flows.reports.statements`) and the payroll export behind the finance
summary (:mod:`flows.reports.payroll`). The adjustments mart is optional and its column names vary.
"""

from __future__ import annotations

from datetime import date

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import columns, dicts, pick


def commission_sources(conn: duckdb.DuckDBPyConnection) -> tuple[str, str, str | None, tuple | None]:
    """The commission ledger, reps and deals tables, and ``(table, amount, reason)`` of the adjustments.

    Raises LookupError without the ledger or the reps; deals and adjustments may be missing (None).
    """
    commissions = find_table(conn, "marts.fct_commissions")
    dim = find_table(conn, "marts.dim_sales_reps")
    if commissions is None or dim is None:
        raise LookupError("marts.fct_commissions and marts.dim_sales_reps must exist for commission reports")
    deals = find_table(conn, "marts.fct_deals")
    adjustments = None
    # Not a dbt mart (no contract): a table finance may load by hand, so its columns are looked up.
    table = find_table(conn, "marts.fct_commission_adjustments")
    if table:
        cols = columns(conn, table)
        amount = pick(cols, "adjustment_amount", "amount")
        if {"rep_id", "period_month"} <= cols and amount:
            adjustments = (table, amount, pick(cols, "reason", "description", "adjustment_reason"))
    return commissions, dim, deals, adjustments


def adjustment_rows(conn, adjustments: tuple | None, month: date, rep_id: str | None = None) -> list[dict]:
    """The adjustments of ``month`` (of one rep if given) as ``rep_id, amount, reason`` rows."""
    if not adjustments:
        return []
    table, amount, reason = adjustments
    sql = (
        f"select rep_id, {amount} as amount, {reason or 'null'} as reason from {table} where period_month = ?"
    )
    params: list = [month]
    if rep_id:
        sql += " and rep_id = ?"
        params.append(rep_id)
    return dicts(conn, sql + " order by rep_id, 2", params)


def warning_rows(conn: duckdb.DuckDBPyConnection, month: date | None = None) -> list[dict]:
    """``marts.fct_commission_warnings`` (of ``month`` and those without a month, when given):
    ``warning_code, period_month, rep_id, message`` rows; [] when the mart does not exist."""
    table = find_table(conn, "marts.fct_commission_warnings")
    if table is None:
        return []
    sql = f"select warning_code, period_month, rep_id, message from {table}"
    params: list = []
    if month is not None:
        sql += " where period_month is null or period_month = ?"
        params.append(month)
    return dicts(conn, sql + " order by period_month nulls first, warning_code, rep_id, message", params)
