"""Issue 13, item 5: writers that skipped the run lock.

Measured before: `salesops run ingest` during a nightly made the nightly die on DuckDB's file lock;
`commissions close`, `validate`, `report preview --from-work` and `warehouse postgres` did not take
the lock; the weekly and monthly runs collided because the lock was released before the DuckDB
file was (dbt-duckdb kept the file open after `dbt build`). Now every connection to the working
warehouse holds the run lock until it is closed, and dbt's handle is closed after every invocation.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config.settings import Settings, patched_environ
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt
from flows.warehouse.runlock import RunLocked, run_lock

ROOT = Path(__file__).resolve().parents[2]


def _other_process_holding(home: Path, how: str) -> subprocess.Popen:
    """A second process that holds the working warehouse the way a run (``run_lock``) or a command
    (``Warehouse.connect``) does, until it is killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from flows.config.settings import Settings
        from flows.warehouse.database import Warehouse
        from flows.warehouse.runlock import run_lock
        settings = Settings(home={str(home)!r})
        if {how!r} == "run":
            held = run_lock(settings, "nightly")
        else:
            held = Warehouse(settings.warehouse_path).connect()
        with held:
            print("held", flush=True)
            time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def home(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    with Warehouse(settings.warehouse_path).connect():
        pass  # the working file exists, as after a first run
    with patched_environ({"SALESOPS_HOME": str(settings.home_dir)}):
        yield settings.home_dir


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "--layer", "marts"],
        ["commissions", "close", "--period", "2026-10", "--force"],
        ["report", "preview", "--kind", "manager", "--from-work"],
    ],
    ids=["validate", "commissions-close", "report-preview-from-work"],
)
def test_a_command_is_refused_while_a_run_holds_the_warehouse(home: Path, command: list[str]) -> None:
    run = _other_process_holding(home, "run")
    try:
        result = CliRunner().invoke(app, command)
    finally:
        run.kill()
        run.wait()
    assert result.exit_code != 0
    text = result.output + str(result.exception or "")
    assert "another salesops run holds" in text and '"flow": "nightly"' in text, text


def test_a_run_is_refused_while_a_command_holds_the_warehouse(home: Path) -> None:
    command = _other_process_holding(home, "connection")
    try:
        with pytest.raises(RunLocked, match="a salesops command"), run_lock(Settings(home=home), "nightly"):
            pass
    finally:
        command.kill()
        command.wait()
    with run_lock(Settings(home=home), "nightly"):  # free again once the command is gone
        pass


def test_connections_nest_inside_the_run_of_their_own_process(home: Path) -> None:
    settings = Settings(home=home)
    with run_lock(settings, "nightly"), Warehouse(settings.warehouse_path).connect() as conn:
        with Warehouse(settings.warehouse_path).connect() as inner:
            inner.execute("create table if not exists ops.probe (x int)")
        assert conn.execute("select count(*) from ops.probe").fetchone() == (0,)
    with pytest.raises(RunLocked), run_lock(settings, "nightly"), run_lock(settings, "weekly"):
        pass  # a second run in the same process is still refused


def test_dbt_leaves_the_file_closed_when_it_returns(home: Path) -> None:
    """After `dbt run` in-process, another process can open the working file (the weekly report
    after the monthly close): dbt-duckdb no longer keeps it open past the run lock."""
    settings = Settings(home=home)
    with run_lock(settings, "monthly-commissions"):
        run_dbt(settings, ["run", "--select", "stg_zoho__users"], run_date=date(2026, 12, 5))
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1]).close(); print('opened')"
    started = time.monotonic()
    opened = subprocess.run(
        [sys.executable, "-c", probe, str(settings.warehouse_path)], capture_output=True, text=True
    )
    assert opened.stdout.strip() == "opened", opened.stderr[-500:]
    assert time.monotonic() - started < 60
