"""Spill directories named by a numbered slot that a process holds with a lock, not by its pid.

DuckDB names its spill files by a counter, not by database, so every process and database needs a
directory of its own (:func:`flows.warehouse.duckdb_limits.spill_directory`). Naming it by the
process id made it unique, but also made it change with every process: dbt hashes its profile's
``config_options`` (the spill directory among them) into its parse state and re-parses the whole
project when the hash differs, so the first dbt command of every nightly, and every ``dbt run``
of the benchmark, paid a full parse (~6 s) instead of a partial one (docs/operations.md).

A slot is the lowest number whose lock file (``<base>-<n>.lock`` in the spill root) this process
can lock exclusively (``flock``, released by the kernel when the process ends, killed or not). A
lone nightly therefore spills into ``<base>-0`` every night, while two processes open at once
still get two directories. A directory whose lock nobody holds belongs to a process that ended:
:func:`remove_stale` removes those when the warehouse layer opens the file. Lock files are never
deleted: deleting one while another process opens it would let two processes hold one slot.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
from itertools import count
from pathlib import Path

#: (spill root, base name) -> (the pid that took it, its slot, the open lock file keeping it)
_held: dict[tuple[Path, str], tuple[int, int, int]] = {}
_guard = threading.Lock()
#: Slots a process keeps at most, the least recently used given back first. The pipeline opens a
#: handful of files (work, published); a test process opens hundreds of homes' files, and each
#: slot keeps a descriptor open (1,024 per process is a common default limit).
MAX_HELD = 128
#: ``<file stem>-<path hash>-<slot>`` (a pid, in directories left by versions before slots)
_SLOT_NAME = re.compile(r"^.+-[0-9a-f]{8}-[0-9]+$")


def _try_lock(lock_file: Path) -> int | None:
    """An open descriptor of ``lock_file`` holding its exclusive lock, None when another holds it."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def slot_directory(root: Path, base: str) -> Path:
    """``root/<base>-<slot>``: this process's spill directory for ``base`` (one database file),
    the same for the life of the process. A child made by ``fork`` inherits the parent's entry
    but not a slot of its own: it takes another."""
    key = (root, base)
    with _guard:
        held = _held.pop(key, None)
        if held is None or held[0] != os.getpid():
            for slot in count():
                fd = _try_lock(root / f"{base}-{slot}.lock")
                if fd is not None:
                    held = (os.getpid(), slot, fd)
                    break
        _held[key] = held  # last used last
        while len(_held) > MAX_HELD:
            _release(next(iter(_held)))
        return root / f"{base}-{held[1]}"


def _release(key: tuple[Path, str]) -> None:
    pid, _, fd = _held.pop(key)
    if pid == os.getpid():
        os.close(fd)


def remove_stale(root: Path) -> list[Path]:
    """Remove the spill directories under ``root`` whose slot no process holds (a killed run's
    spilled blocks; DuckDB deletes its own on a clean close); returns them, sorted. Each is removed
    while its lock is held here, so no process can take the slot and spill into it meanwhile."""
    removed = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or not _SLOT_NAME.match(entry.name):
            continue
        fd = _try_lock(root / f"{entry.name}.lock")
        if fd is None:  # held: its process runs (this process holds its own slots)
            continue
        try:
            shutil.rmtree(entry, ignore_errors=True)
        finally:
            os.close(fd)
        removed.append(entry)
    return removed
