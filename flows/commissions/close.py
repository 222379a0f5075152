"""Period close: snapshot a period's statement lines into the immutable closed tables.

A close is refused for a month that has not ended (usually a typo: ``2027-01`` for ``2026-01``)
and for a month without a single calculated line (the engine has not run for it), unless
``force`` is given: either would lock a period that pays nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from flows.commissions.money import month_start, next_month
from flows.commissions.tables import CLOSED, LINES, PERIODS, closed_periods, ensure_ledger


class CloseError(RuntimeError):
    """A period cannot be closed (already closed, not ended, or nothing calculated)."""


def close_period(
    conn: duckdb.DuckDBPyConnection,
    period: date,
    closed_by: str | None = None,
    *,
    today: date | None = None,
    force: bool = False,
) -> int:
    """Snapshot the period's current statement lines (``finance.commission_lines``, as of the last
    engine run) into ``finance.closed_statement_lines``. Insert-only: a closed period cannot be
    closed again and its lines are never updated. Returns the number of lines snapshotted.

    Without ``force``, a period that has not ended by ``today`` (default: the system date) or has
    no calculated line is refused with :class:`CloseError`."""
    period = month_start(period)
    today = today or date.today()
    ensure_ledger(conn)
    if period in closed_periods(conn):
        raise CloseError(f"period {period:%Y-%m} is already closed")
    if not force and next_month(period) > today:
        raise CloseError(
            f"period {period:%Y-%m} has not ended (today is {today}): closing it would lock the month "
            "before its sales are in; check the month, or use --force"
        )
    count, total = conn.execute(
        f"select count(*), coalesce(sum(commission_amount), 0) from {LINES} where period_month = ?", [period]
    ).fetchone()
    if not force and count == 0:
        raise CloseError(
            f"period {period:%Y-%m} has no calculated statement lines (run the nightly first); "
            "use --force to close an empty period"
        )
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
