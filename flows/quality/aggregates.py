"""Table-level checks pushed down to SQL: one row of aggregates per raw table, computed by DuckDB.

Row counts, live rows against the previous run's (``ops.raw_table_counts``), duplicate and
missing ids, the newest modified time and the in-page repeats the feed collapsed: one scan of the
table in DuckDB, one row in memory, whatever the table's size. GX then checks that single row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from flows.quality.sources import SuiteSource
from flows.quality.tables import table_exists


def ensure_raw_table_counts(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.raw_table_counts (
            run_id varchar not null,
            checked_at timestamptz not null,
            table_name varchar not null,
            total_rows bigint not null,
            live_rows bigint not null
        )"""
    )


def raw_table_level(
    conn: duckdb.DuckDBPyConnection,
    source: SuiteSource,
    qualified: str,
    run_id: str,
    checked_at: datetime,
) -> dict[str, Any]:
    """One row of aggregates over the whole raw table, computed by DuckDB (one scan)."""
    row = conn.execute(
        f"""
        select
            count(*) as total_rows,
            count(*) filter (where not coalesce(is_deleted, false)) as live_rows,
            count(id) - count(distinct id) as duplicate_ids,
            count(*) filter (where id is null or trim(id) = '') as missing_ids,
            max(modified_at) as newest_modified_at,
            count(*) filter (where run_id = ?) as rows_loaded_this_run
        from {qualified}
        """,
        [run_id],
    ).fetchall()[0]
    total, live, dups, missing, newest, loaded = row
    prev_live = _record_counts(conn, source.table, run_id, checked_at, total, live)
    age = None
    if newest is not None:
        newest_utc = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        age = round((checked_at - newest_utc).total_seconds() / 3600, 3)
    return {
        "total_rows": int(total),
        "live_rows": int(live),
        "previous_live_rows": prev_live,
        "live_ratio": (live / prev_live) if prev_live else None,
        "duplicate_ids": int(dups),
        "missing_ids": int(missing),
        "newest_modified_at": newest,
        "newest_age_hours": age,
        "rows_loaded_this_run": int(loaded),
        "feed_duplicate_ids": _feed_duplicates(conn, source, run_id),
    }


def _record_counts(
    conn: duckdb.DuckDBPyConnection, table: str, run_id: str, checked_at: datetime, total: int, live: int
) -> int | None:
    """Store this run's row counts; return the previous run's live rows (None on the first run)."""
    ensure_raw_table_counts(conn)
    prev = conn.execute(
        """
        select live_rows from ops.raw_table_counts
        where table_name = ? and run_id <> ?
        order by checked_at desc limit 1
        """,
        [table, run_id],
    ).fetchall()
    conn.execute("delete from ops.raw_table_counts where table_name = ? and run_id = ?", [table, run_id])
    conn.execute(
        "insert into ops.raw_table_counts values (?, ?, ?, ?, ?)", [run_id, checked_at, table, total, live]
    )
    return prev[0][0] if prev else None


def _feed_duplicates(conn: duckdb.DuckDBPyConnection, source: SuiteSource, run_id: str) -> int | None:
    """Records the feed sent more than once in this run (in-page repeats the landing collapsed)."""
    if not table_exists(conn, "ops", "ingest_runs"):
        return None
    src, obj = source.source_object
    feed = conn.execute(
        """
        select sum(rows_received - rows_inserted - rows_updated - rows_deleted - rows_unchanged)
        from ops.ingest_runs where run_id = ? and source = ? and object = ?
        """,
        [run_id, src, obj],
    ).fetchall()[0]
    return int(feed[0]) if feed and feed[0] is not None else None
