"""Mart reconciliations, the quarantine store and `salesops validate`, on fixture tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.validate import app
from flows.config.settings import Settings, patched_environ
from flows.quality.gate import run_checks
from flows.quality.quarantine import Offence, apply_quarantine, quarantine_markdown, quarantine_summary
from flows.warehouse.database import Warehouse, ensure_ops_schema, ensure_raw_table


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


def test_reconciliations_pass_on_consistent_marts(conn, settings):
    build_marts(conn)
    row, failures = reconciliation_metrics(conn, settings, "marts_reconciliation")
    assert row == {
        "commission_statement_max_diff": 0.0,
        "reps_on_plan_without_target": 0,
        "team_rollup_max_diff": 0.0,
        "kpi_rates_out_of_bounds": 0,
        "closed_statements_changed": None,  # these statements have no period_status
    }
    assert not [f for f in failures if f.expectation != "table_exists"]
    gate = run_checks(conn, settings, run_id="m1", suites=["marts_reconciliation"])
    assert not [
        r
        for r in gate.results
        if r.suite == "marts_reconciliation" and not r.success and r.expectation != "table_exists"
    ]


def test_reconciliation_failures_are_critical(conn, settings):
    build_marts(conn, statement_off=7.5, rollup_off=1000)
    conn.execute("delete from marts.fct_rep_targets_monthly where rep_id = 'r2'")
    conn.execute("update marts.fct_sales_scorecard set win_rate = 1.4 where rep_id = 'r1'")
    gate = run_checks(conn, settings, run_id="m2", suites=["marts_reconciliation"])
    failed = {r.column: r for r in gate.critical_failures if r.column}
    assert failed["commission_statement_max_diff"].observed_value == 7.5
    assert failed["reps_on_plan_without_target"].observed_value == 1
    assert failed["team_rollup_max_diff"].observed_value == 1000.0
    assert failed["kpi_rates_out_of_bounds"].observed_value == 1
    assert "commission lines reconcile" in failed["commission_statement_max_diff"].label
    assert not gate.success


def test_a_changed_statement_of_a_closed_period_is_critical(conn, settings):
    build_marts(conn)
    conn.execute(
        "alter table marts.fct_commission_statements add column period_status varchar default 'closed'"
    )
    first = run_checks(conn, settings, run_id="m1", suites=["marts_reconciliation"])
    assert not [r for r in first.critical_failures if r.column == "closed_statements_changed"]
    conn.execute("update marts.fct_commissions set commission_amount = 150 where commission_line_id = 'c3'")
    conn.execute("update marts.fct_commission_statements set total_amount = 150 where rep_id = 'r2'")
    second = run_checks(conn, settings, run_id="m2", suites=["marts_reconciliation"])
    changed = next(r for r in second.critical_failures if r.column == "closed_statements_changed")
    assert changed.observed_value == 1 and not second.success


def test_missing_statement_table_is_tolerated_only_without_a_model(conn, settings):
    build_marts(conn)
    conn.execute("drop table marts.fct_commission_statements")
    row, failures = reconciliation_metrics(conn, settings, "marts_reconciliation")
    assert row["commission_statement_max_diff"] is None  # nothing to reconcile against
    has_model = any(settings.dbt_project_dir.glob("models/**/fct_commission_statements.sql"))
    missing = [f for f in failures if "fct_commission_statements" in f.description]
    assert bool(missing) == has_model  # a dbt model that did not build is a critical failure
    assert all(f.severity == "critical" for f in missing)


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
