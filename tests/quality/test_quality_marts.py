"""Mart reconciliations (dbt singular tests read back by the gate), the quarantine store and
`salesops validate`, on fixture tables."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.validate import app
from flows.config.settings import Settings, patched_environ
from flows.quality.gate import run_checks
from flows.quality.quarantine import Offence, apply_quarantine, quarantine_markdown, quarantine_summary
from flows.quality.results import GateResult
from flows.reports.alerts import build_alert_report
from flows.warehouse.database import Warehouse, ensure_ops_schema, ensure_raw_table
from flows.warehouse.dbt_runner import run_dbt

RECONCILIATION = "path:tests/reconciliation"
RECONCILIATION_TESTS = {
    "assert_commission_lines_add_up_to_statements",
    "assert_reps_on_plan_have_a_target",
    "assert_team_rollups_add_up",
    "assert_kpi_rates_between_0_and_1",
    "assert_closed_statements_unchanged",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def conn(settings: Settings):
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(settings.warehouse_path))
    connection.execute("set TimeZone = 'UTC'")
    ensure_ops_schema(connection)
    yield connection
    connection.close()


def build_marts(conn: duckdb.DuckDBPyConnection, *, statement_off: float = 0, rollup_off: float = 0) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(
        """
        create table marts.fct_commissions as select * from (values
            ('c1', 'r1', date '2026-11-01', 0.05, 2500.00, 50000.00),
            ('c2', 'r1', date '2026-11-01', 0.08, 960.00, 12000.00),
            ('c3', 'r2', date '2026-11-01', 0.05, 100.00, 2000.00)
        ) as t(commission_line_id, rep_id, period_month, rate, commission_amount, base_amount)
        """
    )
    conn.execute(
        f"""
        create table marts.fct_commission_statements as
        select rep_id || '@' || period_month as statement_id, rep_id, period_month,
               sum(commission_amount) + case when rep_id = 'r2' then {statement_off} else 0 end
                   as total_amount
        from marts.fct_commissions group by rep_id, period_month
        """
    )
    conn.execute(
        """
        create table marts.fct_rep_targets_monthly as select * from (values
            ('r1', date '2026-11-01', 100000.00, 62000.00, 0.62),
            ('r2', date '2026-11-01', 50000.00, 2000.00, 0.04)
        ) as t(rep_id, period_month, target_amount, actual_amount, attainment)
        """
    )
    conn.execute(
        f"""
        create table marts.fct_sales_scorecard as select * from (values
            ('rep', 'month', date '2026-11-01', 'r1', 'Alpha', 'NA', 62000.00, 2, 0.5),
            ('rep', 'month', date '2026-11-01', 'r2', 'Alpha', 'NA', 2000.00, 1, 1.0),
            ('team', 'month', date '2026-11-01', null, 'Alpha', 'NA', {64000 + rollup_off}, 3, 0.6),
            ('region', 'month', date '2026-11-01', null, null, 'NA', 64000.00, 3, 0.6),
            ('company', 'month', date '2026-11-01', null, null, null, 64000.00, 3, 0.6)
        ) as t(scorecard_level, period_grain, period_start, rep_id, team_name, region_name, won_amount,
               deals_won, win_rate)
        """
    )


def dbt_test(settings: Settings, *select: str) -> dict[str, str]:
    """``dbt test --select ...`` on the fixture warehouse (no connection may be open): status per test."""
    result = run_dbt(settings, ["test", "--select", *select], raise_on_failure=False)
    return {n.name: n.status for n in result.nodes if n.resource_type == "test"}


def gate(settings: Settings, run_id: str, suites: list[str]) -> GateResult:
    with Warehouse(settings.warehouse_path).connect() as conn:
        return run_checks(conn, settings, run_id=run_id, suites=suites)


def fixture(settings: Settings, **kwargs: float) -> Warehouse:
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.connect() as conn:
        ensure_ops_schema(conn)
        build_marts(conn, **kwargs)
    return warehouse


def test_reconciliations_pass_on_consistent_marts(settings):
    fixture(settings)
    statuses = dbt_test(settings, RECONCILIATION)
    assert set(statuses) == RECONCILIATION_TESTS and set(statuses.values()) == {"pass"}, statuses
    result = gate(settings, "m1", ["marts_reconciliation"])
    checks = {r.column: r for r in result.results}
    assert set(checks) == {
        "commission_statement_max_diff",
        "reps_on_plan_without_target",
        "team_rollup_max_diff",
        "kpi_rates_out_of_bounds",
        "closed_statements_changed",
    }
    assert all(r.success and r.severity == "critical" and r.observed_value == 0 for r in checks.values())
    assert result.success


def test_reconciliation_failures_are_critical(settings):
    warehouse = fixture(settings, statement_off=7.5, rollup_off=1000)
    with warehouse.connect() as conn:
        conn.execute("delete from marts.fct_rep_targets_monthly where rep_id = 'r2'")
        conn.execute("update marts.fct_sales_scorecard set win_rate = 1.4 where rep_id = 'r1'")
    statuses = dbt_test(settings, RECONCILIATION)
    assert statuses["assert_closed_statements_unchanged"] == "pass"
    # warn in dbt (dbt build goes on), critical in the gate (meta.gate_severity)
    assert sorted(t for t, s in statuses.items() if s == "warn") == sorted(
        RECONCILIATION_TESTS - {"assert_closed_statements_unchanged"}
    )
    result = gate(settings, "m2", ["marts_reconciliation"])
    failed = {r.column: r for r in result.critical_failures if r.column}
    assert failed["commission_statement_max_diff"].observed_value == 7.5
    assert failed["reps_on_plan_without_target"].observed_value == 1
    assert failed["team_rollup_max_diff"].observed_value == 1000.0
    assert failed["kpi_rates_out_of_bounds"].observed_value == 1
    assert "commission lines reconcile" in failed["commission_statement_max_diff"].label
    assert failed["reps_on_plan_without_target"].unexpected_examples == [
        {"rep_id": "r2", "period_month": "2026-11-01"}
    ]
    assert not result.success


def test_a_failing_dbt_singular_test_is_a_critical_failure_in_the_results_and_the_alert(settings):
    """The dbt-results-into-gate path: dbt's failing test -> ops.validation_results -> alert."""
    fixture(settings, statement_off=7.5)
    assert dbt_test(settings, "assert_commission_lines_add_up_to_statements") == {
        "assert_commission_lines_add_up_to_statements": "warn"
    }
    with Warehouse(settings.warehouse_path).connect() as conn:
        result = run_checks(
            conn,
            settings,
            run_id="m3",
            suites=["marts_commissions", "marts_commission_statements", "marts_reconciliation"],
        )
        stored = conn.execute(
            "select expectation, column_name, severity, success, observed_value, details "
            "from ops.validation_results where run_id = 'm3' and suite = 'marts_reconciliation'"
        ).fetchall()
        report = build_alert_report(conn, settings, gate=result, run_date=date(2026, 12, 5), run_id="m3")
    assert not result.success
    (row,) = [r for r in stored if r[0] == "assert_commission_lines_add_up_to_statements"]
    assert row[1:5] == ("commission_statement_max_diff", "critical", False, "7.5")
    details = json.loads(row[5])
    assert details["source"] == "dbt" and details["dbt_status"] == "warn"
    assert details["examples"][0]["rep_id"] == "r2"
    assert "commission lines reconcile" in report.text and "marts_reconciliation" in report.text
    assert "FAILED" in report.text


def test_a_changed_statement_of_a_closed_period_is_critical(settings):
    warehouse = fixture(settings)
    with warehouse.connect() as conn:
        conn.execute(
            "alter table marts.fct_commission_statements add column period_status varchar default 'closed'"
        )
    dbt_test(settings, "assert_closed_statements_unchanged")
    first = gate(settings, "m1", ["marts_reconciliation"])  # records the closed statements
    assert not [r for r in first.critical_failures if r.column == "closed_statements_changed"]
    with warehouse.connect() as conn:
        conn.execute(
            "update marts.fct_commissions set commission_amount = 150 where commission_line_id = 'c3'"
        )
        conn.execute("update marts.fct_commission_statements set total_amount = 150 where rep_id = 'r2'")
    assert dbt_test(settings, "assert_closed_statements_unchanged") == {
        "assert_closed_statements_unchanged": "warn"
    }
    second = gate(settings, "m2", ["marts_reconciliation"])
    changed = next(r for r in second.critical_failures if r.column == "closed_statements_changed")
    assert changed.observed_value == 1 and not second.success


def test_missing_statement_table_is_a_critical_failure(settings):
    warehouse = fixture(settings)
    with warehouse.connect() as conn:
        conn.execute("drop table marts.fct_commission_statements")
    statuses = dbt_test(settings, "assert_commission_lines_add_up_to_statements")
    assert statuses == {"assert_commission_lines_add_up_to_statements": "error"}
    result = gate(settings, "m1", ["marts_reconciliation", "marts_commission_statements"])
    failed = {(r.suite, r.expectation) for r in result.critical_failures}
    # a dbt model that did not build: the reconciliation errors and the suite's table is missing
    assert ("marts_reconciliation", "assert_commission_lines_add_up_to_statements") in failed
    assert ("marts_commission_statements", "table_exists") in failed


def test_marts_dbt_tests_are_reported_under_their_suites(settings):
    """The marts rules that were GX twins of dbt tests are reported from dbt, critical as before."""
    warehouse = fixture(settings)
    with warehouse.connect() as conn:
        conn.execute(
            "create table marts.fct_rep_scorecard as select * from (values "
            "('r1', date '2026-11-01', 0.5), ('r2', date '2026-11-01', 1.0), ('r2', date '2026-11-01', 1.5)"
            ") as t(rep_id, period_month, win_rate)"
        )
        conn.execute(
            "insert into marts.fct_commissions values ('c3', 'r2', date '2026-11-01', 0.05, null, 1)"
        )
    statuses = dbt_test(
        settings,
        "fct_rep_scorecard,test_name:unique_combination",
        "fct_rep_scorecard,test_name:expression_is_true",
        "fct_commissions,test_name:unique",
        "not_null_fct_commissions_commission_amount",
    )
    assert set(statuses.values()) == {"fail"}, statuses
    result = gate(settings, "m4", ["marts_rep_scorecard", "marts_commissions"])
    failed = {(r.suite, r.expectation, r.column) for r in result.critical_failures}
    assert ("marts_rep_scorecard", "unique_combination", "rep_id,period_month") in failed
    assert ("marts_rep_scorecard", "expression_is_true", "win_rate") in failed
    assert ("marts_commissions", "unique", "commission_line_id") in failed
    assert ("marts_commissions", "not_null", "commission_amount") in failed
    win_rate = next(r for r in result.critical_failures if r.expectation == "expression_is_true")
    assert "win_rate" in win_rate.label and win_rate.unexpected_count == 1


def _raw(conn: duckdb.DuckDBPyConnection, rows: list[tuple[str, dict]]) -> None:
    ensure_raw_table(conn, "raw.zoho_deals")
    for rid, record in rows:
        conn.execute(
            "insert into raw.zoho_deals values "
            "('zoho', 'deals', ?, ?, ?, false, null, 'h-' || ?, 'run-1', ?)",
            [rid, json.dumps(record), datetime.now(UTC), rid, datetime.now(UTC)],
        )


def test_quarantine_store_inserts_once_and_releases_fixed_rows(conn):
    _raw(conn, [("1", {"id": "1", "Deal_Name": "Big one"}), ("2", {"id": "2", "Deal_Name": "Other"})])
    bad = Offence(
        "1", "expect_column_values_to_be_between(amount)", "amount is not negative: amount=-5", "warning"
    )
    kwargs = dict(source="zoho", obj="deals", raw_table="raw.zoho_deals", evaluated_ids=["1", "2"])
    first = apply_quarantine(conn, run_id="run-1", offences=[bad], **kwargs)
    again = apply_quarantine(conn, run_id="run-2", offences=[bad], **kwargs)
    assert first == {"quarantined": 1, "released": 0, "active": 1}
    assert again == {"quarantined": 0, "released": 0, "active": 1}  # still held, not duplicated
    (held,) = quarantine_summary(conn, "run-2")
    assert held["id"] == "1" and held["label"] == "Big one" and held["first_run_id"] == "run-1"
    assert held["deal_id"] == "zoho:1" and held["rep_id"] is None  # this record has no Owner
    assert held["new_in_run"] is False and held["reasons"] == ["amount is not negative: amount=-5"]
    assert "Big one" in quarantine_markdown([held])
    record = conn.execute("select record->>'Deal_Name' from ops.quarantine").fetchall()
    assert record == [("Big one",)]
    # a check that was skipped this run does not release its rows
    skipped = apply_quarantine(conn, run_id="run-3", offences=[], checked_expectations=set(), **kwargs)
    assert skipped["released"] == 0
    fixed = apply_quarantine(
        conn, run_id="run-4", offences=[], checked_expectations={bad.expectation}, **kwargs
    )
    assert fixed == {"quarantined": 0, "released": 1, "active": 0}
    assert quarantine_summary(conn, "run-4") == []


def test_quarantine_summary_without_table_is_empty():
    with duckdb.connect() as memory:
        assert quarantine_summary(memory, "x") == []


def test_validate_cli_runs_the_gate_and_exits_non_zero_on_critical(settings, tmp_path):
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.connect() as conn:
        good = {
            "id": "4000000000000000101",
            "Amount": 10,
            "Stage": "Qualification",
            "Currency": "USD",
            "Owner": {"id": "u1"},
            "Created_Time": "2026-10-01T10:00:00+00:00",
        }
        ensure_raw_table(conn, "raw.zoho_deals")
        conn.execute(
            "insert into raw.zoho_deals values "
            "('zoho', 'deals', ?, ?, now(), false, null, 'h', 'run-1', now())",
            [good["id"], json.dumps(good)],
        )
    runner = CliRunner()
    env = {"SALESOPS_HOME": str(settings.home_dir)}
    with patched_environ(env):
        listed = runner.invoke(app, ["--list"])
        ok = runner.invoke(app, ["--suite", "raw_zoho_deals"])
        unknown = runner.invoke(app, ["--suite", "nope"])
        with warehouse.connect() as conn:  # the record's id no longer matches the landed id
            conn.execute("update raw.zoho_deals set id = '4000000000000000999'")
        bad = runner.invoke(app, ["--suite", "raw_zoho_deals", "--run-id", "manual-1"])
    assert listed.exit_code == 0 and "raw_zoho_deals" in listed.output
    assert ok.exit_code == 0, ok.output
    assert "Data quality gate PASSED" in ok.output
    assert unknown.exit_code == 2
    assert bad.exit_code == 1, bad.output
    assert "FAILED" in bad.output and "the landed id is the record's id" in bad.output
    with warehouse.connect() as conn:
        stored = conn.execute(
            "select count(*) from ops.validation_results where run_id = 'manual-1'"
        ).fetchall()[0][0]
    assert stored > 10
