"""What ``salesops targets lock | history | check`` do; :mod:`flows.cli.targets` parses and prints.

Every failure is a :class:`~flows.config.errors.ConfigError` (a file or period is wrong) or a
:class:`TargetsCommandError` (the warehouse is missing, busy or locked by a run), whose message is
what the command prints.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from flows.config.bundle import read_bundle
from flows.config.settings import Settings
from flows.config.target_locks import approved_targets, check_locked_targets
from flows.targets.locking import LockResult, history, lock_targets
from flows.warehouse import duckdb_limits
from flows.warehouse.runlock import RunLocked, run_lock


class TargetsCommandError(Exception):
    """The warehouse cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class CheckResult:
    targets: int  # targets in the files
    locked: int  # locked targets in the warehouse
    pending: int  # change records the next load will record


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb_limits.connect(path, read_only=read_only)
    except duckdb.IOException as exc:  # a nightly run holds the file
        raise TargetsCommandError(
            f"{path}: cannot open the warehouse ({exc}); is a nightly run in progress?"
        ) from None


def lock(period: str, who: str, warehouse: Path, *, run_lock_settings: Settings | None = None) -> LockResult:
    """Lock the targets loaded in ``warehouse`` for ``period``. With ``run_lock_settings`` (the
    pipeline's working warehouse) the run lock is held like a run does."""
    if not warehouse.exists():
        raise TargetsCommandError(
            f"{warehouse}: warehouse not found; run the nightly pipeline (or load the config) first"
        )
    with contextlib.ExitStack() as stack:
        if run_lock_settings is not None:
            try:
                stack.enter_context(run_lock(run_lock_settings, "salesops targets lock"))
            except RunLocked as exc:
                raise TargetsCommandError(str(exc)) from None
        conn = connect(warehouse)
        try:
            return lock_targets(conn, period, who)
        finally:
            conn.close()


def history_of(warehouse: Path, period: str | None) -> list[dict[str, Any]]:
    """Locks and recorded changes, oldest first."""
    if not warehouse.exists():
        raise TargetsCommandError(f"{warehouse}: warehouse not found")
    conn = connect(warehouse, read_only=True)
    try:
        return history(conn, period)
    finally:
        conn.close()


def check(config_dir: Path, warehouse: Path) -> CheckResult:
    """Validate the config files and check them against the locks (if there is a warehouse)."""
    bundle = read_bundle(config_dir)
    if not warehouse.exists():
        return CheckResult(len(bundle.targets), 0, 0)
    conn = connect(warehouse, read_only=True)
    try:
        pending = check_locked_targets(conn, bundle)
        return CheckResult(len(bundle.targets), len(approved_targets(conn)), len(pending))
    finally:
        conn.close()
