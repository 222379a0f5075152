"""Period close: snapshot a period's statement lines into the immutable closed tables."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb

from flows.commissions.money import month_start
from flows.commissions.tables import CLOSED, LINES, PERIODS, closed_periods, ensure_ledger


class CloseError(RuntimeError):
    """A period cannot be closed (already closed, or nothing calculated)."""


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
