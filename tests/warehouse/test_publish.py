"""Publishing marts for readers, the run lock, backfill ordering and `report preview` (no dbt needed).

The full story (a reader holds the published file during a real nightly run) is in
tests/e2e/test_e2e_nightly.py; here the same guarantees are checked fast on a hand-built working file.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest
from reader_support import Reader
from typer.testing import CliRunner

from flows.cli import backfill as backfill_mod
from flows.cli import report as report_cli
from flows.config.settings import Settings
from flows.pipeline.summary import NightlySummary, StepFailed
from flows.warehouse import duckdb_limits
from flows.warehouse.publish import migrate_legacy_layout, publish_marts, published_info
from flows.warehouse.runlock import RunLocked, run_lock

PUBLISHED_X = "select (select run_id from main.salesops_publish), count(*), sum(amount) from marts.fct_x"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(home=tmp_path / "home")
    s.ensure_dirs()
    return s


def build_working(settings: Settings, rows: int, *, extra_mart: bool = False) -> None:
    """A working warehouse as the pipeline leaves it: raw + ops + marts."""
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("create schema if not exists raw; create schema if not exists ops")
        conn.execute("create schema if not exists marts")
        conn.execute("create or replace table raw.secret as select 'pii' as email")
        conn.execute(
            f"create or replace table marts.fct_x as select i as id, (i * 1.5)::decimal(18, 2) as amount "
            f"from range({rows}) t(i)"
        )
        conn.execute("create or replace view marts.v_x as select count(*) as n from marts.fct_x")
        if extra_mart:
            conn.execute("create or replace table marts.fct_old as select 1 as a")
        else:
            conn.execute("drop table if exists marts.fct_old")


def test_publish_writes_a_marts_only_file_and_parquet_per_mart(settings):
    build_working(settings, 10, extra_mart=True)
    result = publish_marts(settings, run_id="run-1", run_date=date(2026, 11, 28))

    assert result.database == settings.home_dir / "warehouse.duckdb" != settings.warehouse_path
    assert result.tables == {"fct_old": 1, "fct_x": 10, "v_x": 1}
    with duckdb.connect(str(result.database), read_only=True) as conn:
        schemas = {
            s for (s,) in conn.execute("select schema_name from information_schema.schemata").fetchall()
        }
        assert "raw" not in schemas and "ops" not in schemas
        assert conn.execute("select run_id, run_date from main.salesops_publish").fetchone() == (
            "run-1",
            date(2026, 11, 28),
        )
        assert conn.execute("select sum(amount) from marts.fct_x").fetchone()[0] == sum(
            round(i * 1.5, 2) for i in range(10)
        )
    with duckdb.connect() as mem:
        assert mem.execute(
            f"select count(*) from '{settings.marts_export_dir / 'fct_x.parquet'}'"
        ).fetchone() == (10,)
    assert published_info(settings)["tables"]["fct_x"] == {"rows": 10, "parquet": "fct_x.parquet"}
    assert not [p for p in settings.home_dir.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".wal")]

    build_working(settings, 12)  # the next night drops fct_old: its Parquet file goes too
    publish_marts(settings, run_id="run-2")
    assert sorted(p.name for p in settings.marts_export_dir.iterdir()) == [
        "_manifest.json",
        "fct_x.parquet",
        "v_x.parquet",
    ]


def test_a_reader_holding_the_published_file_keeps_its_snapshot_and_never_blocks(settings):
    build_working(settings, 10)
    publish_marts(settings, run_id="run-1")
    reader = Reader(settings.published_warehouse_path, PUBLISHED_X)
    try:
        before = reader.read()
        assert before == "run-1 10 67.50"
        # the pipeline keeps writing its own file and republishes while the reader is attached
        build_working(settings, 20)
        publish_marts(settings, run_id="run-2")
        assert reader.read() == before  # same snapshot, not a mix
        fresh = Reader(settings.published_warehouse_path, PUBLISHED_X)
        try:
            assert fresh.read() == "run-2 20 285.00"
        finally:
            fresh.close()
    finally:
        reader.close()


def test_a_failed_publish_leaves_the_last_good_version(settings):
    build_working(settings, 10)
    publish_marts(settings, run_id="run-1")
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("drop view marts.v_x; drop table marts.fct_x")
    with pytest.raises(RuntimeError, match="nothing to publish"):
        publish_marts(settings, run_id="run-2")
    with duckdb.connect(str(settings.published_warehouse_path), read_only=True) as conn:
        assert conn.execute("select run_id from main.salesops_publish").fetchone()[0] == "run-1"
    assert published_info(settings)["run_id"] == "run-1"
    assert not [p for p in settings.home_dir.rglob("*.tmp")]


def test_legacy_home_is_moved_into_work(tmp_path):
    settings = Settings(home=tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute("create schema raw; create schema ops; create table ops.watermarks as select 1 as x")
    assert migrate_legacy_layout(settings)
    assert settings.warehouse_path.exists() and not (tmp_path / "warehouse.duckdb").exists()
    assert not migrate_legacy_layout(settings)  # once


# --- run lock ------------------------------------------------------------------------------------


def test_run_lock_refuses_a_second_holder_and_names_the_first(settings):
    with run_lock(settings, "nightly") as me:
        with pytest.raises(RunLocked, match=f'"pid": {os.getpid()}'), run_lock(settings, "nightly"):
            pass
        assert me["flow"] == "nightly"
    with run_lock(settings, "nightly"):  # released
        pass


def test_a_stale_lock_file_from_a_killed_run_is_taken_over(settings, caplog):
    lock = settings.work_dir / "run.lock"
    lock.write_text(json.dumps({"flow": "nightly", "pid": 999999, "host": "gone"}))
    with run_lock(settings, "nightly") as me:
        assert json.loads(lock.read_text())["pid"] == me["pid"] == os.getpid()
    assert "stale run lock" in caplog.text
    assert lock.read_text() == ""


def test_a_held_lock_is_waited_for_then_reported(settings):
    import threading
    import time

    release = threading.Event()

    def hold():
        with run_lock(settings, "monthly"):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(RunLocked), run_lock(settings, "nightly", wait_seconds=0.5):
        pass
    assert time.monotonic() - started >= 0.45
    threading.Timer(0.3, release.set).start()
    with run_lock(settings, "nightly", wait_seconds=5):  # the holder finishes: we get it
        pass
    holder.join()


@pytest.mark.usefixtures("prefect_harness")
def test_a_second_nightly_cannot_start_while_one_runs(tmp_path, monkeypatch):
    from flows.nightly import nightly

    monkeypatch.setenv("SALESOPS_HOME", str(tmp_path))
    settings = Settings(home=tmp_path)
    with run_lock(settings, "nightly"), pytest.raises(StepFailed) as failure:
        nightly(run_date=date(2026, 11, 28))
    assert "step 'lock' (nightly)" in str(failure.value) and "another salesops run" in str(failure.value)
    assert not (tmp_path / "outbox").exists() or not list((tmp_path / "outbox").glob("*.eml"))


# --- backfill ------------------------------------------------------------------------------------


def _summary(day: date) -> NightlySummary:
    return NightlySummary("r", day, Path("w"), Path("r"), Path("o"), status="completed")


def test_backfill_runs_each_day_in_order_and_stops_at_the_first_failure(monkeypatch):
    import flows.nightly

    calls: list[tuple[date, bool, bool]] = []

    def fake_nightly(run_date, full_refresh=False, resend=False, send_reports=True):
        calls.append((run_date, full_refresh, send_reports))
        if run_date == date(2026, 11, 4):
            raise StepFailed("dbt build", None, "boom")
        return _summary(run_date)

    monkeypatch.setattr(flows.nightly, "nightly", fake_nightly)
    done = backfill_mod.backfill(date(2026, 11, 1), date(2026, 11, 3), full_refresh=True, send_reports=False)
    assert [s.run_date for s in done] == [date(2026, 11, d) for d in (1, 2, 3)]
    assert calls == [(date(2026, 11, d), d == 1, False) for d in (1, 2, 3)]

    calls.clear()
    runner = CliRunner()
    result = runner.invoke(
        backfill_mod.app, ["--from", "2026-11-03", "--to", "2026-11-06"], terminal_width=200
    )
    assert result.exit_code == 1
    assert [c[0] for c in calls] == [date(2026, 11, 3), date(2026, 11, 4)]  # stopped at the failure
    assert "step 'backfill' (2026-11-04)" in result.output and "1 earlier day(s) done" in result.output
    bad = runner.invoke(backfill_mod.app, ["--from", "2026-11-06", "--to", "2026-11-01"])
    assert bad.exit_code == 2 and "before" in bad.output


# --- report preview ------------------------------------------------------------------------------


def test_report_preview_renders_from_the_published_file_without_sending(settings, monkeypatch):
    from reports_support import add_commissions, build_marts

    with duckdb.connect(str(settings.warehouse_path)) as conn:
        build_marts(conn)  # the marts with their contracted columns, as dbt builds them
        add_commissions(conn)
    publish_marts(settings, run_id="run-1")
    monkeypatch.setenv("SALESOPS_HOME", str(settings.home_dir))
    runner = CliRunner()
    # a BI tool is attached; in this process DuckDB shares one instance per file and refuses another
    # configuration, so the stand-in opens it with salesops' limits (a real BI tool has its own process)
    with duckdb_limits.connect(settings.published_warehouse_path, settings, read_only=True):
        manager = runner.invoke(
            report_cli.app, ["preview", "--kind", "manager", "--run-date", "2026-11-28"], terminal_width=300
        )
        statement = runner.invoke(
            report_cli.app, ["preview", "--kind", "statement", "--run-date", "2026-12-01"], terminal_width=300
        )
        finance = runner.invoke(
            report_cli.app, ["preview", "--kind", "finance", "--run-date", "2026-12-01"], terminal_width=300
        )
    assert manager.exit_code == 0, manager.output
    assert "manager_daily [en] to mia@example.com" in manager.output
    assert statement.exit_code == 0, statement.output
    assert "commission_statement [en] to liam@example.com" in statement.output
    assert finance.exit_code == 0, finance.output
    written = sorted(p.name for p in settings.reports_dir.iterdir())
    assert "preview_manager_daily_2026-11-28_mia@example.com.html" in written
    assert "preview_commission_statement_2026-11-r1_liam@example.com.html" in written
    assert any(n.endswith("payroll_2026-11.xlsx") for n in written)
    assert not settings.outbox_dir.exists() or not list(settings.outbox_dir.iterdir())

    bad = runner.invoke(report_cli.app, ["preview", "--kind", "nonsense"])
    assert bad.exit_code == 2
