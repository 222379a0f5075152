"""``dbt source freshness`` in the raw gate: a stale source is a warning, then blocks the run.

The working warehouse holds a few raw tables whose newest ``loaded_at`` is set by hand; dbt measures
them against the sources' YAML (deals and opportunities: warn after 72 h, error after 168 h; Zoho
tasks: warn after 72 h) and the gate stores and judges the outcome like its other checks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from flows.config.settings import Settings
from flows.quality.freshness import EXPECTATION, SUITE, source_freshness
from flows.quality.gate import run_checks

pytestmark = pytest.mark.timeout(600)

HOURS_AGO = {"zoho_deals": 100, "fxiaoke_opportunities": 200, "zoho_tasks": 1}


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("freshness_home"))
    settings.ensure_dirs()
    now = datetime.now(UTC)
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        conn.execute("create schema raw")
        for table, hours in HOURS_AGO.items():
            conn.execute(f"create table raw.{table} (id varchar, loaded_at timestamptz)")
            conn.execute(
                f"insert into raw.{table} values ('old', ?), ('newest', ?)",
                [now - timedelta(hours=hours + 500), now - timedelta(hours=hours)],
            )
    return settings


@pytest.fixture(scope="module")
def measured(settings):
    # zoho_calls is not landed: dbt cannot measure it
    selected = [f"source:{t.split('_')[0]}.{t}" for t in [*HOURS_AGO, "zoho_calls"]]
    return {r.description.split()[4]: r for r in source_freshness(settings, select=selected)}


def test_each_table_is_judged_against_its_own_limits(measured):
    assert set(measured) == {
        "zoho.zoho_deals",
        "fxiaoke.fxiaoke_opportunities",
        "zoho.zoho_tasks",
        "zoho.zoho_calls",
    }
    deals, opportunities, tasks = (
        measured["zoho.zoho_deals"],
        measured["fxiaoke.fxiaoke_opportunities"],
        measured["zoho.zoho_tasks"],
    )
    # 100 h > 72 h (warn) and < 168 h (error): reported, the run goes on
    assert (deals.success, deals.severity, deals.details["dbt_status"]) == (False, "warning", "warn")
    assert deals.details["hours_since_loaded"] == pytest.approx(100, abs=0.1)
    # 200 h > 168 h: critical, the gate stops the run
    assert (opportunities.success, opportunities.severity) == (False, "critical")
    assert opportunities.description == (
        "dbt source freshness of fxiaoke.fxiaoke_opportunities (warn after 72 hours, error after 168 hours)"
    )
    # 1 h: fresh; tasks only ever warn
    assert (tasks.success, tasks.severity, tasks.details["dbt_status"]) == (True, "warning", "pass")


def test_a_table_dbt_could_not_measure_is_a_warning_not_a_pass(measured):
    calls = measured["zoho.zoho_calls"]
    assert (calls.success, calls.severity) == (False, "warning")
    assert calls.observed_value.startswith("not measured:")
    assert "zoho_calls does not exist" in calls.observed_value  # dbt's own message


def test_the_gate_stores_the_freshness_checks_and_fails_on_the_critical_one(settings, measured):
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        gate = run_checks(conn, settings, run_id="fresh-1", suites=[], measured=list(measured.values()))
        stored = conn.execute(
            "select severity, success, json_extract_string(details, '$.dbt_unique_id') "
            "from ops.validation_results where run_id = 'fresh-1' and suite = ? and expectation = ? "
            "order by 3",
            [SUITE, EXPECTATION],
        ).fetchall()
    assert not gate.success
    assert [r.label for r in gate.critical_failures] == [
        measured["fxiaoke.fxiaoke_opportunities"].description
    ]
    assert stored == [
        ("critical", False, "source.salesops.fxiaoke.fxiaoke_opportunities"),
        ("warning", False, "source.salesops.zoho.zoho_calls"),
        ("warning", False, "source.salesops.zoho.zoho_deals"),
        ("warning", True, "source.salesops.zoho.zoho_tasks"),
    ]
