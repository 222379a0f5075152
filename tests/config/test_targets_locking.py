"""flows.targets.locking + flows.cli.targets: locked targets change only with a who/when/why record."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.targets import app
from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR
from flows.targets.locking import lock_targets

SHIPPED = PROJECT_DIR / "config"
INES_MARCH = "rep,ines.keller@salesops-demo.com,month,2026-03,{amount},USD"  # row 16 of the shipped file
CHANGE_HEADER = "scope_type,scope_key,grain,period,new_target_amount,currency,changed_by,changed_at,reason\n"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _replace_line(path: Path, line_number: int, text: str | None) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    if text is None:
        del lines[line_number - 1]
    else:
        lines[line_number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _locked(conn, config_dir: Path) -> None:
    load_config(conn, config_dir, run_id="r1")
    result = lock_targets(conn, "FY2026", "Ana (Sales Ops)", now=datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    # FY2026 = calendar 2026: 24 reps x 12 months + 8 teams x 4 quarters + 4 regions + the company
    assert (result.lock_id, result.targets_locked, result.already_locked) == (1, 24 * 12 + 8 * 4 + 4 + 1, 0)


def test_lock_snapshots_the_period_and_unchanged_reload_passes(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    amount = conn.execute(
        "select target_amount from config.locked_targets "
        "where scope_key = 'ines.keller@salesops-demo.com' and period = '2026-03'"
    ).fetchone()[0]
    assert amount == Decimal("51500.00")
    # FY2025 and FY2027 targets are not locked
    assert (
        conn.execute("select count(*) from config.locked_targets where period like '2025%'").fetchone()[0]
        == 0
    )
    load_config(conn, config_dir, run_id="r2")  # same files: fine, nothing recorded
    assert conn.execute("select count(*) from config.target_changes").fetchone()[0] == 0
    # locking a quarter inside the locked year adds nothing
    again = lock_targets(conn, "FY2026-Q1", "Bo")
    assert (again.lock_id, again.targets_locked, again.already_locked) == (2, 0, 24 * 3 + 8)


def test_change_to_locked_target_without_record_fails_naming_file_row_field(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    _replace_line(config_dir / "targets.csv", 16, INES_MARCH.format(amount="55000.00"))
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir, run_id="r2")
    message = str(err.value)
    assert message.startswith(
        "config/targets.csv row 16, field target_amount: rep 'ines.keller@salesops-demo.com' 2026-03 "
        "is locked in lock 1 (FY2026) by Ana (Sales Ops) on 2026-01-05 at 51500.00 USD; "
        "the file says 55000.00 USD and config/target_changes.csv has no change record for it"
    )
    # nothing was loaded: the warehouse still holds the locked value
    assert conn.execute("select target_amount from config.targets where source_row = 16").fetchone()[
        0
    ] == Decimal("51500.00")


def test_recorded_change_is_accepted_and_kept_in_history_once(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    _replace_line(config_dir / "targets.csv", 16, INES_MARCH.format(amount="55000.00"))
    (config_dir / "target_changes.csv").write_text(
        CHANGE_HEADER
        + "rep,Ines.Keller@salesops-demo.com,month,2026-03,55000.00,USD,Ana (Sales Ops),2026-02-20T10:30:00,"
        "territory grew: Acme account moved to Ines\n",
        encoding="utf-8",
    )
    load_config(conn, config_dir, run_id="r2")
    rows = conn.execute(
        "select scope_key, period, old_target_amount, new_target_amount, changed_by, changed_at, reason, "
        "source_file, source_row, recorded_run_id from config.target_changes"
    ).fetchall()
    assert rows == [
        (
            "ines.keller@salesops-demo.com",
            "2026-03",
            Decimal("51500.00"),
            Decimal("55000.00"),
            "Ana (Sales Ops)",
            datetime(2026, 2, 20, 10, 30, tzinfo=UTC),
            "territory grew: Acme account moved to Ines",
            "config/target_changes.csv",
            2,
            "r2",
        )
    ]
    assert conn.execute("select target_amount from config.targets where source_row = 16").fetchone()[0] == (
        Decimal("55000.00")
    )
    load_config(conn, config_dir, run_id="r3")  # reload: the record is not added twice
    assert conn.execute("select count(*) from config.target_changes").fetchone()[0] == 1

    # changing it again needs a new record; the approved value is now 55000.00
    _replace_line(config_dir / "targets.csv", 16, INES_MARCH.format(amount="51500.00"))
    with pytest.raises(
        ConfigError, match=r"row 16, field target_amount: .* at 55000\.00 USD; the file says 51500\.00"
    ):
        load_config(conn, config_dir, run_id="r4")


def test_change_record_with_other_amount_is_rejected(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    _replace_line(config_dir / "targets.csv", 16, INES_MARCH.format(amount="55000.00"))
    (config_dir / "target_changes.csv").write_text(
        CHANGE_HEADER
        + "rep,ines.keller@salesops-demo.com,month,2026-03,56000.00,USD,Ana,2026-02-20,typo in approval\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir, run_id="r2")
    assert str(err.value) == (
        "config/targets.csv row 16, field target_amount: rep 'ines.keller@salesops-demo.com' 2026-03 is "
        "55000.00 USD but the latest change record (config/target_changes.csv row 2) says 56000.00 USD"
    )


def test_change_record_needs_reason_and_who(conn, config_dir: Path) -> None:
    (config_dir / "target_changes.csv").write_text(
        CHANGE_HEADER + "rep,ines.keller@salesops-demo.com,month,2026-03,55000.00,USD,Ana,2026-02-20,\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == (
        "config/target_changes.csv row 2, field reason: why the locked target changed is required"
    )


def test_removed_or_added_locked_targets_are_rejected(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    targets = config_dir / "targets.csv"
    original = targets.read_text(encoding="utf-8")
    _replace_line(targets, 16, None)
    with pytest.raises(ConfigError, match=r"2026-03 was removed but is locked in lock 1 \(FY2026\)"):
        load_config(conn, config_dir)
    targets.write_text(
        original + "rep,new.hire@salesops-demo.com,month,2026-05,9000.00,USD\n", encoding="utf-8"
    )
    row = len(original.splitlines()) + 1
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value).startswith(
        f"config/targets.csv row {row}, field target_amount: rep 'new.hire@salesops-demo.com' 2026-05 "
        "is a new target in a period locked in lock 1 (FY2026)"
    )
    # an unlocked period may change freely
    targets.write_text(original, encoding="utf-8")
    _replace_line(targets, 2, "rep,ines.keller@salesops-demo.com,month,2025-01,1.00,USD")
    load_config(conn, config_dir)


def test_change_record_for_unlocked_target_is_a_mistake(conn, config_dir: Path) -> None:
    _locked(conn, config_dir)
    (config_dir / "target_changes.csv").write_text(
        CHANGE_HEADER
        + "rep,ines.keller@salesops-demo.com,month,2025-03,1.00,USD,Ana,2026-02-20,not locked\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"target_changes.csv row 2, field period: .* is not a locked target"
    ):
        load_config(conn, config_dir)


def test_lock_needs_loaded_targets_and_a_person() -> None:
    conn = duckdb.connect()
    with pytest.raises(ConfigError, match="no targets loaded"):
        lock_targets(conn, "FY2026", "Ana")
    with pytest.raises(ConfigError, match="who approves"):
        lock_targets(conn, "FY2026", " ")


# ---------------------------------------------------------------------------------------------
# the CLI (mounted by the lead as `salesops targets`)
# ---------------------------------------------------------------------------------------------


def test_cli_lock_history_check(tmp_path: Path, config_dir: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    conn = duckdb.connect(str(warehouse))
    load_config(conn, config_dir, run_id="r1")
    conn.close()
    runner = CliRunner()

    result = runner.invoke(app, ["lock", "FY2026-Q1", "--by", "Ana", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    # FY2026-Q1 = Jan-Mar 2026: 24 reps x 3 months + 8 team quarters (year targets are not inside it)
    assert "lock 1: 80 target(s) of FY2026-Q1 locked by Ana" in result.output

    result = runner.invoke(app, ["check", "--config-dir", str(config_dir), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert "ok: 975 target(s), 80 locked, 0 change record(s)" in result.output

    _replace_line(config_dir / "targets.csv", 16, INES_MARCH.format(amount="55000.00"))
    result = runner.invoke(app, ["check", "--config-dir", str(config_dir), "--warehouse", str(warehouse)])
    assert result.exit_code == 1
    assert "row 16, field target_amount" in result.output

    (config_dir / "target_changes.csv").write_text(
        CHANGE_HEADER
        + "rep,ines.keller@salesops-demo.com,month,2026-03,55000.00,USD,Ana,2026-02-20,new account\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--config-dir", str(config_dir), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert "1 change record(s) to record on the next load" in result.output
    conn = duckdb.connect(str(warehouse))
    load_config(conn, config_dir, run_id="r2")
    conn.close()

    result = runner.invoke(app, ["history", "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert "lock" in result.output and "FY2026-Q1" in result.output
    assert "51500.00" in result.output and "55000.00" in result.output and "new account" in result.output

    result = runner.invoke(app, ["lock", "FY2026-Q9", "--by", "Ana", "--warehouse", str(warehouse)])
    assert result.exit_code == 1
    assert "use FY2026, FY2026-Q3 or 2026-10" in result.output


def test_cli_lock_on_the_working_warehouse_takes_the_run_lock(tmp_path: Path, config_dir: Path) -> None:
    from flows.config.settings import get_settings, patched_environ
    from flows.warehouse.runlock import run_lock

    env = {"SALESOPS_HOME": str(tmp_path / "home")}
    with patched_environ(env):
        settings = get_settings()
        settings.warehouse_path.parent.mkdir(parents=True)
        conn = duckdb.connect(str(settings.warehouse_path))
        load_config(conn, config_dir, run_id="r1")
        conn.close()
        runner = CliRunner()
        with run_lock(settings, "nightly"):  # a nightly run is busy: the lock is refused
            result = runner.invoke(app, ["lock", "2026-03", "--by", "Ana"])
        assert result.exit_code == 1
        assert "another salesops run holds" in result.output
        result = runner.invoke(app, ["lock", "2026-03", "--by", "Ana"])
        assert result.exit_code == 0, result.output
        # March 2026: the 24 reps' month targets
        assert "lock 1: 24 target(s) of 2026-03 locked by Ana" in result.output


def test_cli_without_a_warehouse_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    runner = CliRunner()
    result = runner.invoke(app, ["lock", "FY2026", "--by", "Ana", "--warehouse", str(missing)])
    assert result.exit_code == 1
    assert (
        f"{missing}: warehouse not found; run the nightly pipeline (or load the config) first"
        in result.output
    )
    result = runner.invoke(app, ["history", "--warehouse", str(missing)])
    assert result.exit_code == 1
    assert f"{missing}: warehouse not found" in result.output
    result = runner.invoke(
        app, ["check", "--config-dir", str(PROJECT_DIR / "config"), "--warehouse", str(missing)]
    )
    assert result.exit_code == 0, result.output
    assert "ok: 975 target(s), 0 locked, 0 change record(s)" in result.output
