"""DuckDB's resource limits (memory, threads, spill directory) for every DuckDB database salesops opens.

Without them DuckDB may use 80 % of the machine's RAM and its buffer pool grows with the data: at
100k deals the nightly's process peaked at 2,095 MiB, most of it DuckDB's. With a memory limit
DuckDB spills what does not fit to a temporary directory instead (docs/operations.md, "DuckDB
memory", has the measurements behind the default).

DuckDB keeps one database instance per file and process, and refuses a second connection to a
file that is open with another configuration ("Can't open a connection to same database file with
a different configuration"). So every opener — the warehouse layer, publish, the report preview,
the targets commands and dbt (through its profile, :func:`dbt_environment`) — takes its
configuration from :func:`duckdb_config`, and they all agree.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from flows.config.settings import Settings, get_settings
from flows.warehouse.spill_slots import remove_stale, slot_directory

#: Environment variables dbt_project/profiles.yml reads into the DuckDB profile's ``config_options``.
DBT_MEMORY_LIMIT_VAR = "SALESOPS_DUCKDB_MEMORY_LIMIT"
DBT_THREADS_VAR = "SALESOPS_DUCKDB_THREADS"
#: Not SALESOPS_DUCKDB_TEMP_DIRECTORY: that one is the root the settings read, this one the resolved
#: per-process directory (a settings object built while dbt runs must still see the root).
DBT_TEMP_DIRECTORY_VAR = "SALESOPS_DBT_DUCKDB_TEMP_DIRECTORY"


def spill_root(settings: Settings, database: Path | str) -> Path:
    """SALESOPS_DUCKDB_TEMP_DIRECTORY, else ``duckdb_tmp`` beside the database file (for the work
    warehouse ``<home>/work/duckdb_tmp``): it depends on the file, not on the home of whichever
    settings object the opener holds, so every opener of one file agrees."""
    path = Path(database).expanduser().resolve()
    return (settings.duckdb_temp_directory or path.parent / "duckdb_tmp").expanduser().resolve()


def spill_directory(settings: Settings, database: Path | str) -> Path:
    """``<spill root>/<file stem>-<path hash>-<slot>``: DuckDB names its spill files by a counter,
    not by database, so two databases (or two processes reading the published file) spilling into
    one directory could overwrite each other's blocks; a directory of its own each avoids that. The
    slot is the lowest one no other running process holds (:mod:`flows.warehouse.spill_slots`), so
    the name, and with it dbt's parse state, stays the same from one night's process to the next.
    Creates the spill root (the slot's lock file lives there)."""
    path = Path(database).expanduser().resolve()
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:8]
    root = spill_root(settings, path)
    root.mkdir(parents=True, exist_ok=True)
    return slot_directory(root, f"{path.stem}-{digest}")


def duckdb_config(settings: Settings, database: Path | str) -> dict[str, str]:
    """The ``config`` of ``duckdb.connect`` for ``database``: the same in every opener of a file.

    Creates the spill root: DuckDB creates the last level of its temp directory only (and removes
    it again on close), so a missing root would fail the first query that spills, mid-run.
    """
    spill = spill_directory(settings, database)
    return {
        "memory_limit": settings.duckdb_memory_limit,
        "threads": str(settings.duckdb_threads),
        "temp_directory": str(spill),
    }


def connect(
    database: Path | str, settings: Settings | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` with the configured limits (settings from the environment when not given)."""
    settings = settings or get_settings()
    return duckdb.connect(str(database), read_only=read_only, config=duckdb_config(settings, database))


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What profiles.yml needs to open the work warehouse exactly as :func:`connect` does."""
    config = duckdb_config(settings, settings.warehouse_path)
    return {
        DBT_MEMORY_LIMIT_VAR: config["memory_limit"],
        DBT_THREADS_VAR: config["threads"],
        DBT_TEMP_DIRECTORY_VAR: config["temp_directory"],
    }


def prune_spill_directories(settings: Settings, database: Path | str) -> list[Path]:
    """Remove the spill directories under ``database``'s spill root that no running process holds
    (:func:`flows.warehouse.spill_slots.remove_stale`); returns what it removed."""
    root = spill_root(settings, database)
    return remove_stale(root) if root.is_dir() else []


#: DuckDB checkpoints when its write-ahead log passes ``checkpoint_threshold`` (16 MiB by default).
#: A landed batch of 10,000 Zoho deals is about 20 MiB of JSON, so a first load checkpointed after
#: every batch, each time writing the table's new row groups and its primary-key index again:
#: landing 500k Bulk Read deals took 15.4 s CPU with the default and 14.4 s with 256 MiB (+80 MiB
#: peak RSS; docs/operations.md, "DuckDB memory"). The log is as durable either way.
LANDING_CHECKPOINT_THRESHOLD = "256MiB"

_landing_lock = threading.Lock()
_landing_depth: dict[str, int] = {}


@contextmanager
def landing_checkpoints(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Raise the checkpoint threshold of ``conn``'s database while a landing writes to it.

    The setting is the database instance's, shared by every connection of the process to that
    file (the concurrent ingests of both CRMs): it is raised by the first block and set back to
    DuckDB's default when the last one ends, never left raised for dbt or publishing."""
    (file,) = conn.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    path = file or f"in-memory {id(conn)}"  # each in-memory database is an instance of its own
    with _landing_lock:
        _landing_depth[path] = _landing_depth.get(path, 0) + 1
        if _landing_depth[path] == 1:
            conn.execute(f"set checkpoint_threshold = '{LANDING_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        with _landing_lock:
            _landing_depth[path] -= 1
            if not _landing_depth[path]:
                del _landing_depth[path]
                conn.execute("reset checkpoint_threshold")


_UNITS = {
    "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip


def size_bytes(size: str) -> int | None:
    """A DuckDB size (``512MiB``, ``1GB``, ``2 GiB``) in bytes; None for anything else."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]+)\s*", size)
    if not match or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@contextmanager
def gate_memory(conn: duckdb.DuckDBPyConnection, settings: Settings) -> Iterator[None]:
    """``conn``'s database at ``duckdb_gate_memory_limit`` while the data gate runs, then back at
    ``duckdb_memory_limit`` (also when the gate fails).

    Why: DuckDB keeps the blocks its queries read cached up to its memory limit, and the gate
    scans every raw table (1.9 GiB of JSON at 1M deals): at 1M bench deals the raw gate alone
    peaked at 1,866 MiB, most of it that cache on top of the frames GX validates, and the nightly
    at 2,245 MiB there. Lowering the limit also drops what earlier steps left cached. The gate's
    queries are scans and small aggregates, which need little (measured in docs/operations.md).
    Never raises the limit: a smaller ``duckdb_memory_limit`` stays as it is."""
    low, usual = settings.duckdb_gate_memory_limit, settings.duckdb_memory_limit
    low_bytes, usual_bytes = size_bytes(low), size_bytes(usual)
    if low_bytes is None or usual_bytes is None or low_bytes >= usual_bytes:
        yield
        return
    conn.execute(f"set memory_limit = '{low}'")
    try:
        yield
    finally:
        conn.execute(f"set memory_limit = '{usual}'")
