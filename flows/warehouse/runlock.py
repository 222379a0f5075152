"""One writer of the working warehouse at a time: a lock file under ``<home>/work/``.

DuckDB allows a single writing process per file; two salesops runs writing the same working
warehouse would fail half way. Flows, the targets CLI and backfills take this lock first
(:func:`run_lock`); every other connection to the working warehouse takes it too
(:func:`writer_lock`, through ``Warehouse.connect``), for as long as the connection is open, so no
command can open the file behind a run's back and no run can start while a command holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from flows.config.settings import Settings


class RunLocked(RuntimeError):
    """Another salesops run holds the working warehouse."""


#: Lock files this process holds, with how many blocks hold them (writer locks nest in a run's).
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def writer_lock(lock_path: Path, holder: str) -> Iterator[None]:
    """Hold ``lock_path`` for a connection to the working warehouse.

    Inside a run of this process (a flow holding :func:`run_lock`, or an outer connection) it only
    counts itself in; otherwise it takes the lock like a run does, without waiting, and
    :class:`RunLocked` names the run that holds it.
    """
    key = str(Path(lock_path).resolve())
    with _HELD_GUARD:
        nested = _HELD.get(key, 0) > 0
        if nested:
            _HELD[key] += 1
    if not nested:
        with _lock_file(Path(lock_path), holder, 0.0):
            yield
        return
    try:
        yield
    finally:
        with _HELD_GUARD:
            _HELD[key] -= 1


@contextlib.contextmanager
def run_lock(settings: Settings, flow_name: str, wait_seconds: float = 0.0) -> Iterator[dict]:
    """Hold ``<home>/work/run.lock`` for the block: one writer of the working warehouse at a time.

    The lock is an ``flock`` on the file, so it dies with its process: a lock file left by a killed
    run (its pid/host/start still written in it) is stale and is taken over with a warning. Waits up
    to ``wait_seconds`` for a live holder, then raises :class:`RunLocked` naming it. A second run in
    the same process is refused too (each run opens the file anew, and ``flock`` locks conflict
    between open files).
    """
    with _lock_file(settings.work_dir / "run.lock", flow_name, wait_seconds) as me:
        yield me


@contextlib.contextmanager
def _lock_file(path: Path, flow_name: str, wait_seconds: float) -> Iterator[dict]:
    """The lock itself (see :func:`run_lock`); registered as held by this process while held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, wait_seconds)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
                    raise RunLocked(
                        f"another salesops run holds {path} ({holder}); {flow_name} not started"
                    ) from None
                time.sleep(min(2.0, max(0.05, deadline - time.monotonic())))
        previous = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        if previous:
            _logger().warning("stale run lock taken over (its process is gone): %s", previous)
        me = {
            "flow": flow_name,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        key = str(path.resolve())
        with _HELD_GUARD:
            _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield me
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _logger() -> logging.Logger:
    """The Prefect run logger inside a flow run, else the project logger.

    Prefect is only asked when it is already imported: importing it here would configure logging as
    a side effect, in the middle of a CLI command or a test, and drop the handlers already set up.
    """
    if "prefect" in sys.modules:
        try:
            from prefect import get_run_logger

            return get_run_logger()  # type: ignore[return-value]
        except Exception:
            pass
    return logging.getLogger("salesops")
