"""Targets to a date: what part of a month's (or a week's) target should be won by then.

The day-grain targets (``marts.fct_sales_targets``, scope ``rep``) spread each month's target over
its working days, so the sum of a rep's days up to the report date is the target to date and
``won / target to date`` says whether the rep is ahead of pace. A warehouse without that mart falls
back to calendar days (``target × days elapsed / days in month``). See docs/reports.md.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import dec


def day_targets_between(
    conn: duckdb.DuckDBPyConnection, rep_ids: list[str], start: date, end: date
) -> dict[str, Decimal] | None:
    """Each rep's day-grain targets summed from ``start`` to ``end`` (both included).

    None when the day-grain mart is missing; a rep without days there (no target) is left out.
    """
    table = find_table(conn, "marts.fct_sales_targets")
    if table is None:
        return None
    rows = conn.execute(
        f"""
        select rep_id, sum(target_amount)
        from {table}
        where scope_type = 'rep' and list_contains(?, rep_id) and calendar_date between ? and ?
        group by rep_id
        """,
        [rep_ids, start, end],
    ).fetchall()
    return {rep_id: dec(amount) for rep_id, amount in rows}


def calendar_share(as_of: date) -> Decimal:
    """The share of ``as_of``'s month elapsed by the end of that day (the fallback pace)."""
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    return Decimal(as_of.day) / Decimal(days)


def add_targets_to_date(conn: duckdb.DuckDBPyConnection, reps: list[dict], as_of: date) -> str:
    """Set ``target_to_date`` on every rep row (None without a target); returns the basis used.

    ``"working_days"`` when the day-grain mart gave the figures, ``"calendar_days"`` otherwise.
    """
    month_start = as_of.replace(day=1)
    by_day = day_targets_between(conn, [r["rep_id"] for r in reps], month_start, as_of)
    share = calendar_share(as_of)
    for r in reps:
        if r["target_amount"] is None:
            r["target_to_date"] = None
        elif by_day is not None and r["rep_id"] in by_day:
            r["target_to_date"] = by_day[r["rep_id"]]
        else:
            r["target_to_date"] = dec(r["target_amount"]) * share
    return "working_days" if by_day else "calendar_days"


def pace(won: object, target_to_date: Decimal | None) -> Decimal | None:
    """``won / target to date``: 1 is exactly on pace; None when nothing is due yet (or no target)."""
    if target_to_date is None or target_to_date <= 0:
        return None
    return dec(won) / target_to_date
