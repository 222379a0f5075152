"""Target locking: approved targets are frozen; a later change needs who, when and why.

``lock_targets(conn, period, who)`` snapshots every target in ``config.targets`` whose period
lies inside ``period`` (``FY2026`` locks the year, its quarters and its months; ``FY2026-Q3`` or
``2026-10`` lock less) into ``config.locked_targets`` under a new ``config.target_locks`` row;
``history`` lists the locks and the recorded changes. Every later configuration load enforces
the locks (:mod:`flows.config.target_locks`); the rules are in docs/configuration.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from flows.config.errors import ConfigError
from flows.config.target_locks import (
    ensure_tables,
    fiscal_year_start_month,
    locks,
    parse_period,
    table_exists,
)


@dataclass(frozen=True)
class LockResult:
    lock_id: int
    period: str
    targets_locked: int
    already_locked: int


def lock_targets(
    conn: duckdb.DuckDBPyConnection, period: str, who: str, *, now: datetime | None = None
) -> LockResult:
    """Lock the loaded targets (``config.targets``) of ``period``. Targets locked before keep their
    earlier lock. Raises ConfigError when nothing is loaded or ``who`` is empty."""
    if not who or not who.strip():
        raise ConfigError("lock: who approves the targets is required")
    if not table_exists(conn, "targets"):
        raise ConfigError("lock: no targets loaded in the warehouse (config.targets); load the config first")
    start, end = parse_period(period, fiscal_year_start_month(conn))
    ensure_tables(conn)
    now = now or datetime.now(UTC)
    conn.execute("begin transaction")
    try:
        lock_id = conn.execute("select coalesce(max(lock_id), 0) + 1 from config.target_locks").fetchone()[0]
        candidates = conn.execute(
            """
            select t.scope_type, t.scope_key, t.grain, t.period
            from config.targets as t
            where t.period_start >= ? and t.period_end <= ?
            """,
            [start, end],
        ).fetchall()
        already = conn.execute(
            """
            select count(*) from config.targets as t
            where t.period_start >= ? and t.period_end <= ?
              and exists (select 1 from config.locked_targets as l
                          where l.scope_type = t.scope_type and l.scope_key = t.scope_key
                            and l.grain = t.grain and l.period = t.period)
            """,
            [start, end],
        ).fetchone()[0]
        conn.execute(
            """
            insert into config.locked_targets
            select ?, t.scope_type, t.scope_key, t.grain, t.period, t.period_start, t.period_end,
                   t.target_amount, t.currency
            from config.targets as t
            where t.period_start >= ? and t.period_end <= ?
              and not exists (select 1 from config.locked_targets as l
                              where l.scope_type = t.scope_type and l.scope_key = t.scope_key
                                and l.grain = t.grain and l.period = t.period)
            """,
            [lock_id, start, end],
        )
        count = len(candidates) - already
        conn.execute(
            "insert into config.target_locks values (?, ?, ?, ?, ?, ?, ?)",
            [lock_id, period, start, end, who.strip(), now, count],
        )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return LockResult(lock_id, period, count, already)


def history(conn: duckdb.DuckDBPyConnection, period: str | None = None) -> list[dict[str, Any]]:
    """Locks and recorded changes, oldest first (``period`` filters on the target's period)."""
    events: list[dict[str, Any]] = []
    for lock in locks(conn):
        if period is None or lock[1] == period:
            events.append(
                {
                    "when": lock[5],
                    "event": "lock",
                    "period": lock[1],
                    "who": lock[4],
                    "target": "",
                    "old": None,
                    "new": None,
                    "reason": f"lock {lock[0]}",
                }
            )
    if table_exists(conn, "target_changes"):
        for r in conn.execute(
            """
            select changed_at, scope_type, scope_key, grain, period, old_target_amount, new_target_amount,
                   currency, changed_by, reason
            from config.target_changes order by changed_at, change_id
            """
        ).fetchall():
            if period is None or r[4] == period:
                events.append(
                    {
                        "when": r[0],
                        "event": "change",
                        "period": r[4],
                        "who": r[8],
                        "target": f"{r[1]} {r[2]} {r[3]}",
                        "old": r[5],
                        "new": r[6],
                        "reason": r[9],
                    }
                )
    events.sort(key=lambda e: e["when"])
    return events
