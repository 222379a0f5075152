"""The configuration load's guard of locked targets (the locks themselves: :mod:`flows.targets`).

A configuration load compares the targets file with the approved value of every locked target
(as locked, or as last changed) and refuses an unrecorded change; accepted change records are
appended to ``config.target_changes`` in the load's transaction. The rules: docs/configuration.md,
"Locked targets". ``config.target_locks``, ``config.locked_targets`` and ``config.target_changes``
are never dropped by a configuration load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb

from flows.config.calendar import period_bounds
from flows.config.errors import ConfigError
from flows.config.target_files import Key, Target, TargetChangeRequest

if TYPE_CHECKING:
    from flows.config.bundle import ConfigBundle

SCHEMA = "config"
_DDL = {
    "target_locks": """
        lock_id integer not null primary key, period varchar not null, period_start date not null,
        period_end date not null, locked_by varchar not null, locked_at timestamptz not null,
        targets_locked integer not null""",
    "locked_targets": """
        lock_id integer not null, scope_type varchar not null, scope_key varchar not null,
        grain varchar not null, period varchar not null, period_start date not null,
        period_end date not null, target_amount decimal(18,2) not null, currency varchar not null""",
    "target_changes": """
        change_id integer not null primary key, scope_type varchar not null, scope_key varchar not null,
        grain varchar not null, period varchar not null, old_target_amount decimal(18,2),
        old_currency varchar, new_target_amount decimal(18,2) not null, currency varchar not null,
        changed_by varchar not null, changed_at timestamptz not null, reason varchar not null,
        source_file varchar not null, source_row integer not null, recorded_run_id varchar not null,
        recorded_at timestamptz not null""",
}


@dataclass(frozen=True)
class Approved:
    """The value a locked target must have: as locked, or as last changed."""

    key: Key
    amount: Decimal | None  # None: the target did not exist when locked (added by a change)
    currency: str | None
    lock_id: int
    lock_period: str
    locked_by: str
    locked_at: datetime

    def describe(self) -> str:
        return (
            f"locked in lock {self.lock_id} ({self.lock_period}) by {self.locked_by} "
            f"on {self.locked_at:%Y-%m-%d}"
        )


@dataclass(frozen=True)
class HistoryRow:
    key: Key
    old_amount: Decimal | None
    old_currency: str | None
    new_amount: Decimal
    currency: str
    changed_by: str
    changed_at: datetime
    reason: str
    source_file: str
    source_row: int


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"create schema if not exists {SCHEMA}")
    for table, ddl in _DDL.items():
        conn.execute(f"create table if not exists {SCHEMA}.{table} ({ddl})")


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [SCHEMA, table],
        ).fetchone()[0]
    )


def fiscal_year_start_month(conn: duckdb.DuckDBPyConnection) -> int:
    """The fiscal year start of the loaded settings (1 before any load)."""
    if not table_exists(conn, "settings"):
        return 1
    row = conn.execute(
        "select setting_value from config.settings where setting_key = 'fiscal_year_start_month'"
    ).fetchone()
    return int(row[0]) if row else 1


def parse_period(period: str, fiscal_year_start_month: int) -> tuple[date, date]:
    """``[start, end)`` of 'FY2026', 'FY2026-Q3' or '2026-10' (grain from the spelling)."""
    grain = "quarter" if re.match(r"^FY\d{4}-Q", period) else "year" if period.startswith("FY") else "month"
    bounds = period_bounds(grain, period, fiscal_year_start_month)
    if bounds is None:
        raise ConfigError(f"period {period!r}: use FY2026, FY2026-Q3 or 2026-10")
    return bounds


def locks(conn: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(lock_id, period, period_start, period_end, locked_by, locked_at) of every lock, oldest first."""
    if not table_exists(conn, "target_locks"):
        return []
    return conn.execute(
        "select lock_id, period, period_start, period_end, locked_by, locked_at "
        "from config.target_locks order by lock_id"
    ).fetchall()


def approved_targets(conn: duckdb.DuckDBPyConnection) -> dict[Key, Approved]:
    """Every locked target with the value it must have now (last recorded change wins)."""
    if not table_exists(conn, "locked_targets"):
        return {}
    rows = conn.execute(
        """
        select l.scope_type, l.scope_key, l.grain, l.period, l.target_amount, l.currency,
               k.lock_id, k.period, k.locked_by, k.locked_at
        from config.locked_targets as l
        inner join config.target_locks as k on k.lock_id = l.lock_id
        """
    ).fetchall()
    approved = {
        (r[0], r[1], r[2], r[3]): Approved((r[0], r[1], r[2], r[3]), r[4], r[5], r[6], r[7], r[8], r[9])
        for r in rows
    }
    all_locks = locks(conn)
    for r in conn.execute(
        """
        select scope_type, scope_key, grain, period, new_target_amount, currency
        from config.target_changes order by changed_at, change_id
        """
    ).fetchall():
        key = (r[0], r[1], r[2], r[3])
        base = approved.get(key)
        if base is None:  # a target added to a locked period by a recorded change
            lock = next((lk for lk in all_locks if _inside_key(key, lk, conn)), None)
            if lock is None:
                continue
            base = Approved(key, None, None, lock[0], lock[1], lock[4], lock[5])
        approved[key] = Approved(
            key, r[4], r[5], base.lock_id, base.lock_period, base.locked_by, base.locked_at
        )
    return approved


def _inside_key(key: Key, lock: tuple[Any, ...], conn: duckdb.DuckDBPyConnection) -> bool:
    start, end = parse_period(key[3], fiscal_year_start_month(conn))
    return lock[2] <= start and end <= lock[3]


def _recorded(conn: duckdb.DuckDBPyConnection) -> set[tuple[Key, datetime]]:
    if not table_exists(conn, "target_changes"):
        return set()
    return {
        ((r[0], r[1], r[2], r[3]), r[4].astimezone(UTC))
        for r in conn.execute(
            "select scope_type, scope_key, grain, period, changed_at from config.target_changes"
        ).fetchall()
    }


def check_locked_targets(conn: duckdb.DuckDBPyConnection, bundle: ConfigBundle) -> list[HistoryRow]:
    """Validate the targets file against the locks; return the change records to append.

    Raises ConfigError (file, row, field, reason) for an unrecorded change to a locked target.
    """
    all_locks = locks(conn)
    if not all_locks:
        return []
    approved = approved_targets(conn)
    recorded = _recorded(conn)
    changes_name = f"{bundle.config_name}/target_changes.csv"
    pending: dict[Key, list[TargetChangeRequest]] = {}
    for request in sorted(bundle.change_requests, key=lambda r: (r.changed_at, r.source_row)):
        if (request.key, request.changed_at) not in recorded:
            pending.setdefault(request.key, []).append(request)
    in_file = {(t.scope_type, t.scope_key, t.grain, t.period): t for t in bundle.targets}

    def lock_of(target: Target) -> tuple[Any, ...] | None:
        return next(
            (lk for lk in all_locks if lk[2] <= target.period_start and target.period_end <= lk[3]), None
        )

    history: list[HistoryRow] = []
    # every target of the file that lies in a locked period
    for key, target in in_file.items():
        lock = lock_of(target)
        if lock is not None:
            base = approved.get(key) or Approved(key, None, None, lock[0], lock[1], lock[4], lock[5])
            history += _check_target(target, base, pending.get(key, []), changes_name)
    _check_removed(bundle, approved, in_file, changes_name)
    # change records that point at no locked target are a mistake worth stopping for
    for key, requests in pending.items():
        if key not in in_file or lock_of(in_file[key]) is None:
            raise ConfigError(
                f"{changes_name} row {requests[0].source_row}, field period: {key[0]} {key[1]!r} {key[3]} is "
                "not a locked target of the targets file (change records are only for locked targets)"
            )
    return history


def _check_target(
    target: Target, base: Approved, requests: list[TargetChangeRequest], changes_name: str
) -> list[HistoryRow]:
    """The history rows of one target in a locked period, or ConfigError for an unrecorded change."""
    key = base.key
    where = f"{target.source_file} row {target.source_row}, field target_amount"
    label = f"{key[0]} {key[1]!r} {key[3]}"
    if requests:
        last = requests[-1]
        if last.new_target_amount != target.target_amount or last.currency != target.currency:
            raise ConfigError(
                f"{where}: {label} is {target.target_amount} {target.currency} but the latest change "
                f"record ({changes_name} row {last.source_row}) says {last.new_target_amount} "
                f"{last.currency}"
            )
        return _history(base, requests)
    if base.amount is None:
        raise ConfigError(
            f"{where}: {label} is a new target in a period {base.describe()}; add a change record "
            f"to {changes_name} (new_target_amount {target.target_amount}, changed_by, changed_at, "
            "reason)"
        )
    if base.amount != target.target_amount or base.currency != target.currency:
        raise ConfigError(
            f"{where}: {label} is {base.describe()} at {base.amount} {base.currency}; the file says "
            f"{target.target_amount} {target.currency} and {changes_name} has no change record for it "
            f"(scope_type, scope_key, grain, period, new_target_amount {target.target_amount}, currency, "
            "changed_by, changed_at, reason)"
        )
    return []


def _history(base: Approved, requests: list[TargetChangeRequest]) -> list[HistoryRow]:
    """One history row per change record, each with the value it replaced."""
    rows: list[HistoryRow] = []
    old_amount, old_currency = base.amount, base.currency
    for r in requests:
        rows.append(
            HistoryRow(
                base.key,
                old_amount,
                old_currency,
                r.new_target_amount,
                r.currency,
                r.changed_by,
                r.changed_at,
                r.reason,
                r.source_file,
                r.source_row,
            )
        )
        old_amount, old_currency = r.new_target_amount, r.currency
    return rows


def _check_removed(
    bundle: ConfigBundle, approved: dict[Key, Approved], in_file: dict[Key, Target], changes_name: str
) -> None:
    """Locked targets that disappeared from the file."""
    targets_name = bundle.targets[0].source_file if bundle.targets else f"{bundle.config_name}/targets.csv"
    for key, base in approved.items():
        if key not in in_file:
            raise ConfigError(
                f"{targets_name}, field target_amount: {key[0]} {key[1]!r} {key[3]} was removed but is "
                f"{base.describe()}; keep the row (set it to 0 with a change record in {changes_name})"
            )


def record_changes(conn: duckdb.DuckDBPyConnection, rows: list[HistoryRow], run_id: str) -> int:
    """Append accepted change records to ``config.target_changes`` (inside the caller's transaction)."""
    if not rows:
        return 0
    ensure_tables(conn)
    next_id = conn.execute("select coalesce(max(change_id), 0) + 1 from config.target_changes").fetchone()[0]
    now = datetime.now(UTC)
    for offset, row in enumerate(rows):
        conn.execute(
            "insert into config.target_changes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                next_id + offset,
                *row.key,
                row.old_amount,
                row.old_currency,
                row.new_amount,
                row.currency,
                row.changed_by,
                row.changed_at,
                row.reason,
                row.source_file,
                row.source_row,
                run_id,
                now,
            ],
        )
    return len(rows)
