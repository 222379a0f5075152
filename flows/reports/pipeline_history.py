"""The weekly report's pipeline sections, read from the pipeline-history marts (nothing recomputed).

``marts.fct_pipeline_movement`` gives each rep's week: opening, new, advanced, moved back, slipped,
won, lost, removed, amount edits and closing; the team row adds the reps' rows (every column is a
count or an amount, so the sums are the team's figures). ``marts.fct_pipeline_snapshots`` at the
week's closing snapshot gives the deals expected to close the next week. Only reps still in the team
are shown, as in the daily report's pipeline section (docs/manager_report.md). Without the marts (an
older warehouse) the sections are left out; a week before the history starts says so.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import dec, dicts
from flows.reports.formatting import Fmt
from flows.reports.periods import ReportWeek

log = logging.getLogger(__name__)

#: The movement columns in the order the table shows them (each has ``_count`` and ``_amount``).
MOVES = ("opening", "new", "advanced", "moved_back", "slipped", "won", "lost", "removed", "closing")
#: At most this many deals are listed as expected to close next week (largest first).
NEXT_WEEK_DEALS = 15


def pipeline_sections(conn: duckdb.DuckDBPyConnection, reps: list[dict], week: ReportWeek, fmt: Fmt) -> dict:
    """``movement`` and ``next_week`` for the template; ``{}`` when the marts are missing.

    ``reps`` are the report's rep rows (``rep_id``, ``rep_name``, ``has_left``).
    """
    movement = find_table(conn, "marts.fct_pipeline_movement")
    snapshots = find_table(conn, "marts.fct_pipeline_snapshots")
    if movement is None or snapshots is None:
        log.info("no pipeline-history marts: the weekly report has no pipeline movement")
        return {}
    names = {r["rep_id"]: r["rep_name"] for r in reps if not r["has_left"]}
    if not names:  # everyone listed has left: no pipeline is the team's
        return {}
    order = {rep_id: i for i, rep_id in enumerate(names)}  # the report's rep order
    rows = sorted(
        dicts(
            conn,
            f"select * from {movement} where week_start = ? and list_contains(?, rep_id)",
            [week.start, list(names)],
        ),
        key=lambda r: order[r["rep_id"]],
    )
    if not rows:
        recorded = dicts(conn, f"select count(*) as n from {movement} where week_start = ?", [week.start])
        empty = fmt.t("movement_no_deals" if recorded[0]["n"] else "movement_none", week=week.number)
        return {"movement": {"empty": empty}, "next_week": None}
    closing = rows[0]["closing_snapshot_date"]
    return {
        "movement": {
            "empty": None,
            "rows": [_move_cells(names[r["rep_id"]], r, fmt) for r in rows],
            "total": _move_cells(fmt.t("team_total"), _sums(rows), fmt),
            "note": fmt.t(
                "movement_note",
                opening=fmt.full_date(rows[0]["opening_snapshot_date"]),
                closing=fmt.full_date(closing),
            ),
        },
        "next_week": _next_week(conn, snapshots, names, rows, closing, week, fmt),
    }


def _sums(rows: list[dict]) -> dict:
    keys = [f"{m}_{part}" for m in MOVES for part in ("count", "amount")]
    keys += ["amount_change", "next_week_close_count", "next_week_close_amount"]
    return {k: sum((dec(r[k]) for r in rows), Decimal(0)) for k in keys}


def _move_cells(name: str, r: dict, fmt: Fmt) -> dict:
    """``(amount, deals)`` per movement, e.g. ``("120,000", "3")``; amount edits as a signed amount
    without a count (``("+5,000", None)``)."""
    cells: dict = {m: (fmt.number(r[f"{m}_amount"]), fmt.number(r[f"{m}_count"])) for m in MOVES}
    change = dec(r["amount_change"])
    cells["amount_change"] = (("+" if change > 0 else "") + fmt.number(change), None)
    return {"name": name, **cells}


def _next_week(
    conn: duckdb.DuckDBPyConnection,
    snapshots: str,
    names: dict[str, str],
    rows: list[dict],
    closing: date,
    week: ReportWeek,
    fmt: Fmt,
) -> dict:
    """The open deals of the closing snapshot whose close date is in the next ISO week."""
    start, end = week.end + timedelta(days=1), week.end + timedelta(days=7)
    deals = dicts(
        conn,
        f"""
        select deal_name, rep_id, stage, amount_reporting, close_date
        from {snapshots}
        where snapshot_date = ? and list_contains(?, rep_id) and close_date between ? and ?
        order by amount_reporting desc nulls last, close_date, deal_name
        limit {NEXT_WEEK_DEALS}
        """,
        [closing, list(names), start, end],
    )
    total = _sums(rows)
    return {
        "title": fmt.t("next_week_title", start=fmt.short_date(start), end=fmt.short_date(end)),
        "summary": fmt.t(
            "next_week_summary",
            count=fmt.number(total["next_week_close_count"]),
            amount=fmt.number(total["next_week_close_amount"]),
            limit=NEXT_WEEK_DEALS,
        ),
        "rows": [
            {
                "deal": d["deal_name"],
                "rep": names[d["rep_id"]],
                "stage": d["stage"],
                "amount": fmt.number(d["amount_reporting"]),
                "close_date": fmt.full_date(d["close_date"]),
            }
            for d in deals
        ],
    }
