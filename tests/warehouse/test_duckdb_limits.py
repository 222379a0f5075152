"""DuckDB's memory limit, threads and spill directory reach every connection the pipeline opens:
the warehouse layer, dbt (through profiles.yml), publish's reader; a wrong value fails naming its
variable (flows/warehouse/duckdb_limits.py, docs/operations.md "DuckDB memory")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from pydantic import ValidationError

from flows.config.settings import Settings
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt
from flows.warehouse.duckdb_limits import (
    gate_memory,
    landing_checkpoints,
    prune_spill_directories,
    size_bytes,
    spill_directory,
)
from flows.warehouse.publish import read_published

ROOT = Path(__file__).resolve().parents[2]
LIMITS = (
    "select current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
)


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """640 MiB and one thread, from the environment as a deployment sets them (not DuckDB's defaults:
    80 % of RAM and one thread per core)."""
    monkeypatch.setenv("SALESOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", "640MiB")
    monkeypatch.setenv("SALESOPS_DUCKDB_THREADS", "1")
    monkeypatch.delenv("SALESOPS_DUCKDB_TEMP_DIRECTORY", raising=False)
    return Settings()


def test_warehouse_connection_has_the_configured_limits(limited: Settings, tmp_path: Path) -> None:
    with Warehouse(limited.warehouse_path).connect() as conn:
        memory, threads, temp = conn.execute(LIMITS).fetchone()
    assert (memory, threads) == ("640.0 MiB", 1)
    # the default spill root: duckdb_tmp beside the work warehouse, one directory per process and file
    assert Path(temp).parent == tmp_path / "home" / "work" / "duckdb_tmp"
    # named by a slot this process holds (flows/warehouse/spill_slots.py): no other process runs here
    assert re.fullmatch(r"warehouse-[0-9a-f]{8}-0", Path(temp).name), temp


def test_dbt_opens_the_warehouse_with_the_same_limits(limited: Settings, capsys) -> None:
    """dbt show through run_dbt (the pipeline's path) while the warehouse layer holds a connection:
    DuckDB refuses a second opener of the file with another configuration, so dbt succeeding here
    is itself the proof that profiles.yml opens it exactly as Warehouse.connect does."""
    with Warehouse(limited.warehouse_path).connect() as conn:
        expected_temp = conn.execute("select current_setting('temp_directory')").fetchone()[0]
        capsys.readouterr()
        same_spill = f"current_setting('temp_directory') = '{expected_temp}'"  # dbt show cuts long values
        sql = f"select current_setting('memory_limit'), current_setting('threads'), {same_spill}"
        result = run_dbt(limited, ["show", "--inline", sql], raise_on_failure=False)
        shown = " ".join(" ".join(capsys.readouterr()).split())
    assert result.success, shown
    assert "| 640.0 MiB | 1 | True |" in shown


def test_published_reader_has_the_limits(limited: Settings) -> None:
    limited.published_warehouse_path.parent.mkdir(parents=True)
    duckdb.connect(str(limited.published_warehouse_path)).close()
    with read_published(limited) as conn:
        memory, threads, temp = conn.execute(LIMITS).fetchone()
    assert (memory, threads) == ("640.0 MiB", 1)
    assert Path(temp) == spill_directory(limited, limited.published_warehouse_path)
    assert Path(temp) != spill_directory(limited, limited.warehouse_path)  # no shared spill files


def test_a_query_larger_than_the_limit_spills_instead_of_failing(monkeypatch, tmp_path: Path) -> None:
    """A 3M-row sort needs ~200 MiB: under a 64 MiB limit it finishes only by spilling, and the same
    query on a connection without a spill directory fails with DuckDB's out-of-memory error."""
    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", "64MiB")
    monkeypatch.setenv("SALESOPS_DUCKDB_THREADS", "1")
    settings = Settings(home=tmp_path / "home")
    big_sort = (
        "select count(*), min(s) from (select hash(i)::varchar || repeat('x', 20) as s "
        "from range(3000000) t(i) order by s)"
    )
    with Warehouse(settings.warehouse_path, settings).connect() as conn:
        assert conn.execute(big_sort).fetchone()[0] == 3_000_000
    no_spill = {"memory_limit": "64MiB", "threads": "1", "temp_directory": ""}
    bare = duckdb.connect(str(tmp_path / "bare.duckdb"), config=no_spill)
    with pytest.raises(duckdb.OutOfMemoryException):
        bare.execute(big_sort).fetchone()
    bare.close()


@pytest.mark.parametrize("value", ["lots", "", "0"])
def test_a_memory_limit_duckdb_cannot_read_names_the_variable(monkeypatch, value: str) -> None:
    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(ValidationError, match=f"SALESOPS_DUCKDB_MEMORY_LIMIT='{value}' is not a DuckDB size"):
        Settings()


def test_threads_below_one_fail_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("SALESOPS_DUCKDB_THREADS", "0")
    with pytest.raises(ValidationError, match="duckdb_threads"):
        Settings()


_TAKE_SLOT = """
import sys
from pathlib import Path
from flows.config.settings import Settings
from flows.warehouse.duckdb_limits import spill_directory
settings = Settings(home=Path(sys.argv[1]), duckdb_temp_directory=Path(sys.argv[2]))
print(spill_directory(settings, settings.warehouse_path), flush=True)
sys.stdin.readline()  # holds its slot until told to end
"""


class _SlotHolder:
    """Another process holding a spill slot for a warehouse until :meth:`end`."""

    def __init__(self, settings: Settings) -> None:
        args = [sys.executable, "-c", _TAKE_SLOT, str(settings.home_dir), str(settings.duckdb_temp_directory)]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.directory = Path(self.proc.stdout.readline().strip())

    def end(self) -> None:
        self.proc.communicate("\n", timeout=60)


def test_spill_slots_are_per_running_process_and_the_same_from_one_process_to_the_next(
    tmp_path: Path,
) -> None:
    """Two processes open at once spill apart; a process started after another ended gets the same
    directory (what keeps dbt's profile, and its parse state, the same from night to night)."""
    settings = Settings(home=tmp_path / "home", duckdb_temp_directory=tmp_path / "spill")
    first = _SlotHolder(settings)
    second = _SlotHolder(settings)
    assert first.directory != second.directory
    assert first.directory.name.endswith("-0") and second.directory.name.endswith("-1")
    first.end()
    third = _SlotHolder(settings)
    assert third.directory == first.directory  # slot 0 again
    mine = spill_directory(settings, settings.warehouse_path)
    assert mine not in {second.directory, third.directory}
    assert spill_directory(settings, settings.warehouse_path) == mine  # the same all process long
    second.end()
    third.end()


def test_spill_directories_no_running_process_holds_are_removed(tmp_path: Path) -> None:
    """A killed run's spilled blocks go when the warehouse layer next opens the file; the
    directories of running processes (another's, this one's) stay, whatever their database."""
    settings = Settings(home=tmp_path / "home", duckdb_temp_directory=tmp_path / "spill")
    ended, running = _SlotHolder(settings), _SlotHolder(settings)
    mine = spill_directory(settings, settings.warehouse_path)
    ended.end()
    legacy = tmp_path / "spill" / "warehouse-0123abcd-4194999"  # named by a pid before slots
    other_file = spill_directory(settings, tmp_path / "published" / "warehouse.duckdb")
    for directory in (ended.directory, running.directory, legacy, mine, other_file):
        directory.mkdir(parents=True)
        (directory / "duckdb_temp_storage-0.tmp").write_bytes(b"spilled")
    assert prune_spill_directories(settings, settings.warehouse_path) == sorted([ended.directory, legacy])
    assert all(d.exists() for d in (running.directory, mine, other_file))
    running.end()
    assert prune_spill_directories(settings, settings.warehouse_path) == [running.directory]


def test_dbt_parses_partially_in_the_next_process(tmp_path: Path) -> None:
    """dbt hashes its profile, the spill directory among its config_options, into the parse state
    and re-parses the whole project when the hash changed: a new directory per process cost every
    nightly a full parse (~6 s) in its first dbt command. The next process's parse is partial."""
    home = tmp_path / "home"
    code = (
        "from flows.config.settings import Settings; from flows.warehouse.dbt_runner import run_dbt; "
        f"run_dbt(Settings(home={str(home)!r}), ['parse'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOPS_")}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
    log = (home / "logs" / "dbt.log").read_text()
    second = log[log.rindex("Running with dbt=") :]
    assert "Unable to do partial parsing" not in second, second[:3000]
    assert "Nothing changed, skipping partial parsing" in second


def _threshold(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("select current_setting('checkpoint_threshold')").fetchone()[0]


def test_landing_raises_the_checkpoint_threshold_only_while_some_landing_runs(tmp_path: Path):
    """Shared by every connection to the file (both CRMs land concurrently): raised by the first
    landing, back to DuckDB's default when the last ends, even when it fails."""
    path = tmp_path / "w.duckdb"
    first, second = duckdb.connect(str(path)), duckdb.connect(str(path))
    default = _threshold(first)
    assert default == "16.0 MiB"
    with landing_checkpoints(first):
        assert _threshold(second) == "256.0 MiB"
        with pytest.raises(RuntimeError), landing_checkpoints(second):
            raise RuntimeError("the second landing fails")
        assert _threshold(second) == "256.0 MiB", "the first landing still runs"
    assert _threshold(first) == _threshold(second) == default
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    with landing_checkpoints(other):
        assert _threshold(other) == "256.0 MiB" and _threshold(first) == default, "per database file"
    assert _threshold(other) == default


def test_sizes_are_read_as_duckdb_reads_them() -> None:
    assert size_bytes("512MiB") == 512 * 1024**2
    assert size_bytes("1GiB") == 1024**3 and size_bytes(" 2 GB ") == 2 * 1000**3
    assert size_bytes("1.5GiB") == 3 * 512 * 1024**2
    assert size_bytes("80%") is None and size_bytes("lots") is None


def _memory(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("select current_setting('memory_limit')").fetchone()[0]


def test_the_gate_runs_at_its_lower_memory_limit_and_gives_it_back(monkeypatch, tmp_path: Path) -> None:
    """While the gate runs, the file's database (every connection to it) has the gate's limit; after
    it, the usual one again, also when the gate fails. A usual limit below the gate's is kept."""
    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", "1GiB")
    monkeypatch.setenv("SALESOPS_DUCKDB_GATE_MEMORY_LIMIT", "300MiB")
    settings = Settings(home=tmp_path / "home")
    path = tmp_path / "w.duckdb"
    conn = duckdb.connect(str(path), config={"memory_limit": "1GiB"})
    other = duckdb.connect(str(path), config={"memory_limit": "1GiB"})
    usual = _memory(conn)
    with pytest.raises(RuntimeError), gate_memory(conn, settings):
        assert _memory(other) == "300.0 MiB"
        raise RuntimeError("a suite fails")
    assert _memory(conn) == _memory(other) == usual == "1.0 GiB"

    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", "256MiB")
    small = Settings(home=tmp_path / "home")
    conn.execute("set memory_limit = '256MiB'")
    with gate_memory(conn, small):
        assert _memory(conn) == "256.0 MiB", "never raised above the configured limit"
    assert _memory(conn) == "256.0 MiB"


def test_a_gate_memory_limit_duckdb_cannot_read_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("SALESOPS_DUCKDB_GATE_MEMORY_LIMIT", "lots")
    expected = "SALESOPS_DUCKDB_GATE_MEMORY_LIMIT='lots' is not a DuckDB size"
    with pytest.raises(ValidationError, match=expected):
        Settings()
