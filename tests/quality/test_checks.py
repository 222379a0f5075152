"""The quality gate on hand-built fixture tables in a throwaway DuckDB file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flows.config.settings import Settings
from flows.quality.gate import run_checks
from flows.quality.gx_runtime import load_suite_json
from flows.quality.reference import load_stage_mapping
from flows.quality.results import GateResult
from flows.quality.sources import SUITE_SOURCES, suite_sources
from flows.quality.tables import find_table
from flows.sandbox.company.model import PIPELINES
from flows.warehouse.database import ensure_ops_schema

RAW_DDL = """
create table {table} (
    source varchar, object varchar, id varchar, record json, modified_at timestamptz,
    is_deleted boolean, deleted_at timestamptz, record_hash varchar, run_id varchar, loaded_at timestamptz
)"""
NOW = datetime.now(UTC)


def zoho_deal(deal_id: str, amount: object = 12000.5, stage: str = "Closed Won", **extra: object) -> dict:
    return {
        "id": deal_id,
        "Deal_Name": f"Deal {deal_id[-3:]}",
        "Amount": amount,
        "Stage": stage,
        "Currency": "USD",
        "Owner": {"name": "Olivia Walker", "id": "4000000000000000001", "email": "olivia@example.com"},
        "Closing_Date": "2026-11-20",
        "Created_Time": "2026-10-01T10:00:00-08:00",
        "Modified_Time": "2026-11-20T10:00:00-08:00",
        **extra,
    }


def fx_opp(opp_id: str, amount: str = "100000.00", stage: str = "赢单") -> dict:
    return {
        "_id": opp_id,
        "name": "华信 项目",
        "amount": amount,
        "mc_currency": "CNY",
        "sales_stage": "5",
        "sales_stage__r": stage,
        "owner": ["FSUID_AAA"],
        "close_date": 1795000000000,
        "create_time": 1790000000000,
        "life_status": "normal",
        "last_modified_time": 1795000000000,
    }


def insert_raw(conn: duckdb.DuckDBPyConnection, table: str, source: str, obj: str, rows: list[tuple]) -> None:
    conn.execute(RAW_DDL.format(table=table))
    for rec_id, record, modified_at in rows:
        conn.execute(
            f"insert into {table} values (?, ?, ?, ?, ?, false, null, 'h', 'run-0', ?)",
            [source, obj, rec_id, json.dumps(record, ensure_ascii=False), modified_at, NOW],
        )


def build_marts(conn: duckdb.DuckDBPyConnection, *, bad: bool = False) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(
        """
        create table marts.fct_rep_scorecard (
            rep_id varchar, rep_name varchar, email varchar, team_name varchar, region_name varchar,
            manager_name varchar, manager_email varchar, period_month date, won_amount decimal(18, 2),
            deals_won integer, deals_lost integer, win_rate double, avg_deal_size decimal(18, 2),
            open_pipeline_amount decimal(18, 2), weighted_pipeline_amount decimal(18, 2),
            target_amount decimal(18, 2), attainment double
        )"""
    )
    month = date(2026, 11, 1)
    rows = [
        ("r1", month, 50000, 2, 1, 2 / 3, 80000, 40000, 100000, 0.5),
        ("r2", month, 120000, 3, 0, 1.0, 10000, 9000, 100000, 1.2),
        ("r1", date(2026, 10, 1), 0, 0, 0, 0.0, 0, 0, 100000, 0.0),
    ]
    if bad:
        rows.append(("r2", month, 1, 1, 0, 1.5, 0, 0, 1, 1.0))  # duplicate key and win_rate > 1
    for rep, m, won, dw, dl, wr, openp, weighted, target, att in rows:
        conn.execute(
            "insert into marts.fct_rep_scorecard values (?, 'Rep', 'rep@x', 'Team', 'Region', 'Boss', "
            "'boss@x', ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            [rep, m, won, dw, dl, wr, openp, weighted, target, att],
        )
    conn.execute(
        """
        create table marts.fct_commissions (
            commission_line_id varchar, rep_id varchar, deal_id varchar, period_month date, plan_id varchar,
            plan_version integer, component varchar, band_lower decimal(18, 4), band_upper decimal(18, 4),
            rate decimal(9, 6), base_amount decimal(18, 2), commission_amount decimal(18, 2), currency varchar
        )"""
    )
    conn.execute(
        """
        insert into marts.fct_commissions values
            ('c1', 'r1', 'd1', date '2026-11-01', 'p', 1, 'base', 0, 1, 0.05, 50000, 2500, 'USD'),
            ('c2', 'r2', 'd2', date '2026-11-01', 'p', 1, 'accelerator', 1, null, 0.08, 120000, 9600, 'USD')
        """
    )
    conn.execute(
        """
        create table marts.fct_commission_statements as
        select rep_id || '@' || period_month as statement_id, rep_id, period_month, 'open' as period_status,
               sum(commission_amount) as commission_amount, sum(commission_amount) as total_amount
        from marts.fct_commissions group by rep_id, period_month
        """
    )
    if bad:
        conn.execute(
            "insert into marts.fct_commissions values "
            "('c2', 'r2', 'd3', date '2026-11-01', 'p', 1, 'base', 0, 1, 0.05, 100, null, 'USD')"
        )


def build_raw(conn: duckdb.DuckDBPyConnection, *, bad: bool = False) -> None:
    t = NOW - timedelta(days=1)
    zoho = [
        ("4000000000000000101", zoho_deal("4000000000000000101"), t),
        ("4000000000000000102", zoho_deal("4000000000000000102", 800, "Qualification"), t),
        ("4000000000000000103", zoho_deal("4000000000000000103", 0, "Closed Lost"), t),
    ]
    if bad:
        zoho += [
            ("4000000000000000101", zoho_deal("4000000000000000101"), t),  # duplicate id
            ("4000000000000000104", zoho_deal("4000000000000000104", -50), t),  # negative amount
            ("4000000000000000105", zoho_deal("4000000000000000105", stage="Won-ish"), t),  # unknown stage
            ("4000000000000000106", zoho_deal("4000000000000000106", "12k"), NOW + timedelta(days=2)),
        ]
    insert_raw(conn, "raw.zoho_deals", "zoho", "deals", zoho)
    insert_raw(
        conn,
        "raw.zoho_users",
        "zoho",
        "users",
        [("4000000000000000001", {"id": "4000000000000000001", "email": "o@x", "status": "active"}, t)],
    )
    insert_raw(
        conn,
        "raw.fxiaoke_employees",
        "fxiaoke",
        "employees",
        [("FSUID_AAA", {"openUserId": "FSUID_AAA", "name": "王伟", "isStop": False}, t)],
    )
    insert_raw(
        conn,
        "raw.fxiaoke_opportunities",
        "fxiaoke",
        "opportunities",
        [("65a1b2c3d4e5f60718293a4b", fx_opp("65a1b2c3d4e5f60718293a4b"), t)],
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def conn(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("set TimeZone = 'UTC'")
    ensure_ops_schema(connection)  # ops.ingest_runs: raw tables never landed are not expected
    yield connection
    connection.close()


def stored(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple]:
    return conn.execute(
        "select suite, expectation, column_name, severity, success, unexpected_count, details "
        "from ops.validation_results where run_id = ? order by suite, expectation",
        [run_id],
    ).fetchall()


def test_gate_passes_on_good_data(conn, settings):
    build_raw(conn)
    build_marts(conn)
    conn.execute(
        "create table marts.fct_rep_targets_monthly as select rep_id, period_month, target_amount, "
        "won_amount as actual_amount, attainment, 'USD' as currency, team_name, region_name "
        "from marts.fct_rep_scorecard"
    )

    gate = run_checks(conn, settings, run_id="run-good")

    assert isinstance(gate, GateResult)
    assert gate.success, gate.summary_markdown()
    assert not gate.critical_failures
    expected = {"raw_zoho_deals", "raw_zoho_users", "raw_fxiaoke_opportunities", "raw_fxiaoke_employees"}
    expected |= {n for n in SUITE_SOURCES if n.startswith("marts_")}
    # raw tables never landed (accounts, contacts here) are skipped, not failed
    assert {r.suite for r in gate.results} == expected
    assert not gate.quarantined
    rows = stored(conn, "run-good")
    assert len(rows) == len(gate.results) > 40
    assert all(r[4] for r in rows if r[3] == "critical")
    # Data Docs are built under the run's home, never inside the repository.
    assert gate.data_docs_path == settings.home_dir / "gx" / "data_docs" / "index.html"
    assert gate.data_docs_path.exists()
    assert not (settings.expectations_dir / "uncommitted").exists()
    assert "PASSED" in gate.summary_markdown()


def test_gate_fails_critically_on_bad_data(conn, settings):
    build_raw(conn, bad=True)
    build_marts(conn, bad=True)

    gate = run_checks(
        conn,
        settings,
        run_id="run-bad",
        suites=["raw_zoho_deals", "marts_rep_scorecard", "marts_commissions"],
    )

    assert not gate.success, gate.summary_markdown()
    failed = {(r.suite, r.expectation, r.column): r for r in gate.critical_failures}
    # table-level, pushed down to SQL: the duplicate id
    dup = failed[("raw_zoho_deals", "expect_column_values_to_be_between", "duplicate_ids")]
    assert dup.observed_value is not None and "ids are unique" in dup.label
    # row-level: 1 bad row of 7 is > 1 % of the table, so each quarantining check escalates to critical
    negative = failed[("raw_zoho_deals", "expect_column_values_to_be_between", "amount")]
    assert negative.unexpected_count == 1
    assert negative.unexpected_examples[0]["id"] == "4000000000000000104"
    assert negative.details["escalated"] and "systemic" in negative.label
    stage = failed[("raw_zoho_deals", "expect_column_values_to_be_in_set", "stage")]
    assert stage.unexpected_examples == [{"id": "4000000000000000105", "stage": "Won-ish"}]
    assert ("raw_zoho_deals", "expect_column_values_to_match_regex", "amount_text") in failed
    future = [r for r in gate.critical_failures if r.column == "modified_at"]
    assert future and future[0].unexpected_count == 1
    # the offending rows are quarantined as well, with the reason
    held = {q["id"]: q for q in gate.quarantined}
    assert {"4000000000000000104", "4000000000000000105", "4000000000000000106"} <= set(held)
    assert any("Won-ish" in reason for reason in held["4000000000000000105"]["reasons"])
    # the marts' keys, nulls and win rate are dbt tests now: test_quality_marts.py
    # (test_marts_dbt_tests_are_reported_under_their_suites) runs them and reads them back

    rows = stored(conn, "run-bad")
    assert len(rows) == len(gate.results)
    failed_rows = [r for r in rows if not r[4] and r[3] == "critical"]
    assert len(failed_rows) == len(gate.critical_failures)
    details = json.loads(next(r[6] for r in failed_rows if r[1] == "expect_column_values_to_be_in_set"))
    assert details["examples"] == [{"id": "4000000000000000105", "stage": "Won-ish"}]
    md = gate.summary_markdown()
    assert "FAILED" in md and "Won-ish" in md


def test_missing_and_empty_tables_do_not_crash(conn, settings):
    insert_raw(conn, "raw.fxiaoke_opportunities", "fxiaoke", "opportunities", [])  # exists, 0 rows
    # raw.zoho_deals was landed by an earlier run and has vanished: expected, so a critical failure
    conn.execute(
        "insert into ops.ingest_runs (run_id, source, object, mode, status, started_at) "
        "values ('run-0', 'zoho', 'deals', 'incremental', 'succeeded', now())"
    )

    gate = run_checks(
        conn,
        settings,
        run_id="run-empty",
        suites=["raw_zoho_deals", "raw_zoho_accounts", "raw_fxiaoke_opportunities", "marts_commissions"],
    )

    missing = [r for r in gate.critical_failures if r.expectation == "table_exists"]
    assert {r.suite for r in missing} == {"raw_zoho_deals", "marts_commissions"}  # dbt has a model
    assert "raw.zoho_deals does not exist" in missing[0].observed_value
    assert not [r for r in gate.results if r.suite == "raw_zoho_accounts"]  # never landed: skipped
    empty = [r for r in gate.results if r.suite == "raw_fxiaoke_opportunities"]
    assert len(empty) > 5
    # an empty table is a warning; so is an owner check without its users table
    assert sorted(r.column for r in empty if not r.success) == ["live_rows", "owner_id"]
    assert all(r.severity == "warning" for r in empty if not r.success)
    assert len(stored(conn, "run-empty")) == len(gate.results)


def test_marts_found_in_dbt_default_schema(conn):
    conn.execute("create schema main_marts")
    conn.execute("create table main_marts.fct_commissions (x int)")
    assert find_table(conn, "marts.fct_commissions") == '"main_marts"."fct_commissions"'
    assert find_table(conn, "raw.zoho_deals") is None


def test_suites_carry_severity_and_known_stages(settings):
    for name in SUITE_SOURCES:
        suite = load_suite_json(settings, name)
        assert suite["name"] == name
        for exp in suite["expectations"]:
            assert exp["meta"]["severity"] in {"critical", "warning"}, (name, exp["type"])
    # stages come from the dbt seed at run time, not from a list in the suite
    for name, source in (("raw_zoho_deals", "zoho"), ("raw_fxiaoke_opportunities", "fxiaoke")):
        stage = next(
            e
            for e in load_suite_json(settings, name)["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "stage"
        )
        assert stage["kwargs"]["value_set"] == {"$PARAMETER": f"stages_{source}"}
        assert stage["meta"]["quarantine"] is True and stage["meta"]["severity"] == "warning"
    seeded = {(r["source"], r["stage"]) for r in load_stage_mapping(settings)}
    for source, stages in PIPELINES.items():
        assert {(source, s[0]) for s in stages} <= seeded


def test_stage_added_to_the_seed_is_accepted_without_touching_the_suite(conn, settings, tmp_path):
    build_raw(conn)
    conn.execute(
        'update raw.zoho_deals set record = json_merge_patch(record, \'{"Stage": "Prospecting"}\') '
        "where id = '4000000000000000102'"
    )
    gate = run_checks(conn, settings, run_id="run-seed", suites=["raw_zoho_deals"])
    assert gate.success and not gate.quarantined, gate.summary_markdown()  # Maven's stage, in the seed


def test_generic_suite_covers_new_raw_tables(conn, settings):
    insert_raw(conn, "raw.zoho_leads", "zoho", "leads", [("1", {"id": "1"}, NOW)])
    assert suite_sources(conn)["raw_zoho_leads"].json_name == "raw_generic"
    gate = run_checks(conn, settings, run_id="run-generic", suites=["raw_zoho_leads"])
    assert gate.success, gate.summary_markdown()
    assert {r.column for r in gate.results} >= {"duplicate_ids", "missing_ids", "live_ratio"}


def test_unknown_suite_is_a_programming_error(conn, settings):
    with pytest.raises(ValueError, match="unknown suite"):
        run_checks(conn, settings, run_id="x", suites=["nope"])


O2C_SUITES = (
    "raw_zoho_sales_orders",
    "raw_zoho_invoices",
    "raw_fxiaoke_sales_orders",
    "raw_fxiaoke_invoices",
    "raw_fxiaoke_payments",
)


def test_order_to_cash_suites_cover_the_issue_checks(settings):
    """Every order-to-cash object: ids, amounts, currency, owner, customer, dates, timestamps, counts."""
    for name in O2C_SUITES:
        source = SUITE_SOURCES[name]
        assert source.quarantine and source.table_level == "raw" and source.sql
        exps = load_suite_json(settings, name)["expectations"]
        checks = {(e["type"], e["kwargs"].get("column")): e["meta"] for e in exps}
        critical = {
            (e["type"], e["kwargs"].get("column")) for e in exps if e["meta"]["severity"] == "critical"
        }
        assert {
            ("expect_column_values_to_be_between", "missing_ids"),
            ("expect_column_values_to_be_between", "duplicate_ids"),
            ("expect_column_values_to_be_between", "live_ratio"),
            ("expect_column_values_to_not_be_null", "id"),
        } <= critical, name
        quarantining = {k[1] for k, m in checks.items() if m.get("quarantine")}
        assert {
            "record_id",
            "amount_text",
            "amount",
            "currency",
            "owner_id",
            "unresolved_account_id",
            "created_at",
            "modified_at",
        } <= quarantining, name
        # the business date each object cannot do without is required, and quarantines
        assert any(c.endswith(("_date", "_date_ms")) for c in quarantining), name
        # a handful of bad rows is not systemic in these smaller tables: 5 %, not the deals' 1 %
        assert all(m["critical_share"] == 0.05 for k, m in checks.items() if m.get("quarantine"))


def _o2c_rows(conn) -> None:
    t = NOW - timedelta(days=1)
    order = {
        "id": "4000000000000000201",
        "Subject": "Order 1",
        "Grand_Total": 1200.5,
        "Currency": "USD",
        "Owner": {"id": "4000000000000000001"},
        "Account_Name": {"name": "Acme", "id": "4000000000000000301"},
        "Order_Date": "2026-11-20",
        "Created_Time": "2026-11-20T10:00:00-08:00",
    }
    ghost = order | {
        "id": "4000000000000000202",
        "Account_Name": {"name": "Nobody", "id": "4000000000000000999"},
    }
    insert_raw(
        conn,
        "raw.zoho_sales_orders",
        "zoho",
        "sales_orders",
        [(order["id"], order, t), (ghost["id"], ghost, t)],
    )
    insert_raw(
        conn,
        "raw.zoho_users",
        "zoho",
        "users",
        [("4000000000000000001", {"id": "4000000000000000001", "email": "o@x", "status": "active"}, t)],
    )


def test_customer_check_runs_in_sql_and_is_skipped_without_accounts(conn, settings):
    _o2c_rows(conn)
    gate = run_checks(conn, settings, run_id="run-o2c", suites=["raw_zoho_sales_orders"])
    customer = next(r for r in gate.results if r.column == "unresolved_account_id")
    assert customer.details.get("skipped") and "zoho_accounts_landed" in customer.label
    assert not gate.quarantined  # nothing to resolve against: nothing held back for it

    insert_raw(
        conn,
        "raw.zoho_accounts",
        "zoho",
        "accounts",
        [("4000000000000000301", {"id": "4000000000000000301", "Account_Name": "Acme"}, NOW)],
    )
    gate = run_checks(conn, settings, run_id="run-o2c-2", suites=["raw_zoho_sales_orders"])
    customer = next(r for r in gate.results if r.column == "unresolved_account_id")
    assert not customer.success and customer.unexpected_count == 1
    assert customer.unexpected_examples == [
        {"id": "4000000000000000202", "unresolved_account_id": "4000000000000000999"}
    ]
    assert [(q["object"], q["id"]) for q in gate.quarantined] == [("sales_orders", "4000000000000000202")]
    # one row of two is 50 %: over the 5 % share, so the problem counts as systemic and blocks
    assert customer.severity == "critical" and not gate.success


def test_suites_run_at_the_gates_memory_limit(conn, tmp_path, monkeypatch):
    """DuckDB's cache of the raw tables the gate scans stays at the gate's limit
    (``duckdb_limits.gate_memory``); the connection has its own limit back afterwards."""
    import flows.quality.gate as gate_module

    build_raw(conn)
    conn.execute("set memory_limit = '1GiB'")
    seen: list[str] = []
    real = gate_module.run_suite

    def watched(run, name, source):
        seen.append(run.conn.execute("select current_setting('memory_limit')").fetchone()[0])
        return real(run, name, source)

    monkeypatch.setattr(gate_module, "run_suite", watched)
    monkeypatch.setenv("SALESOPS_DUCKDB_MEMORY_LIMIT", "1GiB")
    monkeypatch.setenv("SALESOPS_DUCKDB_GATE_MEMORY_LIMIT", "320MiB")
    run_checks(conn, Settings(home=tmp_path / "home"), run_id="run-limit", layer="raw")
    assert seen and set(seen) == {"320.0 MiB"}
    assert conn.execute("select current_setting('memory_limit')").fetchone()[0] == "1.0 GiB"
