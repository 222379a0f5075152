"""How long deals usually stay in a stage: one figure for the funnel and the stalled deals.

``fct_stalled_deals`` calls a deal stalled when it has been in its stage longer than the stage's
usual days: the median days in stage over every visit of it that has ended
(``fct_deal_stage_transitions``, per CRM source). ``fct_funnel``'s own median is over the visits of
one month's cohort that have already left the stage (the quick ones, early in a month), so next to
the stalled deals it contradicted them; the funnel shows the usual days instead.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from flows.reports.common import dec

UsualDays = dict[tuple[str | None, str], Decimal]


def usual_days_by_stage(conn: duckdb.DuckDBPyConnection, transitions: str) -> UsualDays:
    """(source, stage) → median days in stage of the ended visits, rounded to 2 decimals as the mart does."""
    rows = conn.execute(
        f"""
        select source, stage,
               round(cast(quantile_cont(cast(days_in_stage as double), 0.5) as decimal(38, 10)), 2)
        from {transitions}
        where days_in_stage is not null
        group by source, stage
        """
    ).fetchall()
    return {(source, stage): dec(days) for source, stage, days in rows}


def funnel_days(row: dict, usual: UsualDays | None) -> Decimal | None:
    """The usual days of a funnel row's stage (its source's, or the one source that has the stage);
    the funnel mart's own median when the transitions mart is missing."""
    if usual is None:
        return row["median_days"]
    if row["source"] is not None:
        return usual.get((row["source"], row["stage"]))
    found = [days for (_, stage), days in usual.items() if stage == row["stage"]]
    return found[0] if len(found) == 1 else None
