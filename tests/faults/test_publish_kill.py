"""Issue 13, item 8: a publish killed at any point leaves one whole published version, never half.

The publish runs in a subprocess whose ``os.replace`` / ``os.rename`` / ``os.symlink`` kill the
process (SIGKILL) at their N-th call, before doing it: every step of the switch is a possible crash
point. Afterwards the DuckDB file, the manifest and every Parquet file readers see must be from
one run (the old one or the new one), a reader holding the old file keeps its snapshot, and the
next publish removes what the killed one left behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from faults_support import published_runs
from reader_support import Reader

from flows.config.settings import Settings
from flows.warehouse.publish import publish_marts

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_X = "select (select run_id from main.salesops_publish), count(*) from marts.fct_x"

_KILLED_PUBLISH = textwrap.dedent(
    """
    import os, signal, sys
    from flows.config.settings import Settings
    from flows.warehouse.publish import publish_marts

    kill_at, calls = int(sys.argv[2]), [0]

    def crash_point(fn):
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)
        return wrapped

    for name in ("replace", "rename", "symlink"):
        setattr(os, name, crash_point(getattr(os, name)))
    publish_marts(Settings(home=sys.argv[1]), run_id=sys.argv[3])
    """
)


def build_working(settings: Settings, rows: int) -> None:
    """A working warehouse with three marts whose row counts tell the runs apart."""
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("create schema if not exists raw; create schema if not exists marts")
        conn.execute(f"create or replace table marts.fct_x as select i as id from range({rows}) t(i)")
        conn.execute(f"create or replace table marts.fct_y as select i as id from range({rows * 2}) t(i)")
        conn.execute("create or replace view marts.v_x as select count(*) as n from marts.fct_x")


def leftovers(home: Path) -> list[str]:
    """Temporary names anywhere in the home (links followed only through the stable reader paths)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if ".tmp" in p.name)


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4, 5])
@pytest.mark.timeout(300)
def test_a_publish_killed_at_any_rename_leaves_one_whole_version(tmp_path: Path, kill_at: int) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.ensure_dirs()
    build_working(settings, 10)
    publish_marts(settings, run_id="run-1")
    reader = Reader(settings.published_warehouse_path, PUBLISHED_X)
    try:
        assert reader.read() == "run-1 10"
        build_working(settings, 20)
        killed = subprocess.run(
            [sys.executable, "-c", _KILLED_PUBLISH, str(settings.home_dir), str(kill_at), "run-2"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode in (0, -signal.SIGKILL), killed.stderr
        after_kill = published_runs(settings.home_dir)
        assert after_kill in ({"run-1"}, {"run-2"}), f"published files from more than one run: {after_kill}"
        if killed.returncode == 0:
            assert after_kill == {"run-2"}
        assert reader.read() == "run-1 10"  # a reader holding the old file keeps its snapshot

        build_working(settings, 30)
        publish_marts(settings, run_id="run-3")  # the next start cleans up after the killed one
        assert published_runs(settings.home_dir) == {"run-3"}
        assert leftovers(settings.home_dir) == []
        assert reader.read() == "run-1 10"
        fresh = Reader(settings.published_warehouse_path, PUBLISHED_X)
        try:
            assert fresh.read() == "run-3 30"
        finally:
            fresh.close()
    finally:
        reader.close()
