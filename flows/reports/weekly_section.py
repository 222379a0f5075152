"""The weekly report's first section: what each rep won and lost in the ISO week, against the week's target.

The week's target is the sum of the rep's day-grain targets over the week (a week may straddle two
months); won and lost deals are those of ``marts.fct_deals`` closed in the week. Without
``fct_deals`` the section is left out; without the day-grain mart the targets show as ``–``.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import dec, dicts
from flows.reports.formatting import Fmt, attainment_color
from flows.reports.pace import day_targets_between
from flows.reports.periods import ReportWeek


def week_section(
    conn: duckdb.DuckDBPyConnection, reps: list[dict], week: ReportWeek, fmt: Fmt
) -> dict | None:
    """Rows (rep name, won, deals won / lost, week target, attainment) and the team's total."""
    deals = find_table(conn, "marts.fct_deals")
    if deals is None:
        return None
    rep_ids = [r["rep_id"] for r in reps]
    closed = {
        row["rep_id"]: row
        for row in dicts(
            conn,
            f"""
            select rep_id,
                   sum(amount_reporting) filter (where is_won) as won,
                   count(*) filter (where is_won) as deals_won,
                   count(*) filter (where is_lost) as deals_lost
            from {deals}
            where list_contains(?, rep_id) and close_date between ? and ?
            group by rep_id
            """,
            [rep_ids, week.start, week.end],
        )
    }
    targets = day_targets_between(conn, rep_ids, week.start, week.end) or {}
    figures = [
        {
            "name": r["label"],
            "won": dec(closed.get(r["rep_id"], {}).get("won")),
            "deals_won": int(closed.get(r["rep_id"], {}).get("deals_won") or 0),
            "deals_lost": int(closed.get(r["rep_id"], {}).get("deals_lost") or 0),
            "target": targets.get(r["rep_id"]),
        }
        for r in reps
    ]
    team_target = sum((f["target"] for f in figures if f["target"] is not None), Decimal(0))
    total = {
        "name": fmt.t("team_total"),
        "won": sum((f["won"] for f in figures), Decimal(0)),
        "deals_won": sum(f["deals_won"] for f in figures),
        "deals_lost": sum(f["deals_lost"] for f in figures),
        "target": team_target if any(f["target"] is not None for f in figures) else None,
    }
    return {
        "title": fmt.t(
            "week_title", week=week.number, start=fmt.short_date(week.start), end=fmt.short_date(week.end)
        ),
        "rows": [_cells(f, fmt) for f in figures],
        "total": _cells(total, fmt),
    }


def _cells(f: dict, fmt: Fmt) -> dict:
    attainment = f["won"] / f["target"] if f["target"] else None
    return {
        "name": f["name"],
        "won": fmt.number(f["won"]),
        "deals": f"{f['deals_won']} / {f['deals_lost']}",
        "target": fmt.number(f["target"]),
        "attainment": fmt.pct(attainment),
        "color": attainment_color(attainment if f["target"] else None),
    }
