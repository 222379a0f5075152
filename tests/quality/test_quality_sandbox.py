"""The data-quality gate on bad data injected through the sandbox CRMs.

Each test serves a small seeded company from the sandbox (over HTTP, through the real
connectors), breaks it in one way, lands it with ``flows.crm.landing.ingest_source`` and runs the raw
gate with ``flows.quality.gate.run_checks``. Asserted: which rows are quarantined and why, whether the
gate blocks (a critical failure) or lets the run continue (warnings), and what the data engineer's
alert says (``flows.reports.alerts.build_alert_report``).

Policy under test (see ``docs/quality.md``): a row-level problem on a deal quarantines the deal and
is a warning; when the offending rows exceed 1 % of the table, or the problem is structural
(ids, a 95 % drop), the gate blocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dq_helpers import (
    alert_text,
    company,
    gate,
    land,
    sandbox,
    served_deal,
    summary,
    touch_zoho,
    zoho_deal_ids,
)

from flows.crm.landing import IngestError
from flows.quality.results import GateResult
from flows.sandbox.zoho.encoding.wire import zoho_id


def check(result: GateResult, column: str, expectation: str | None = None):
    found = [
        r
        for r in result.results
        if r.suite == "raw_zoho_deals"
        and r.column == column
        and (expectation is None or r.expectation == expectation)
        and not r.success
    ]
    assert found, f"no failed check on {column}: {result.summary_markdown()}"
    return found[0]


def test_clean_company_passes_without_quarantine(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company(deals=120)) as (_, settings):
        land(settings, "run-1")
        result = gate(settings, "run-1")
    assert result.success, result.summary_markdown()
    assert not result.warnings, result.summary_markdown()
    assert result.quarantined == [] and summary(settings, "run-1") == []


def test_each_row_level_problem_quarantines_the_row_and_the_run_continues(tmp_path: Path) -> None:
    served = company()
    zoho = [d for d in served.deals if d.crm == "zoho"]
    unknown_stage, future = zoho[0], zoho[1]
    unknown_stage.stage = "Won-ish"  # not in dbt_project/seeds/crm_stage_mapping.csv
    future.modified_at = datetime.now(UTC) + timedelta(days=3)
    with sandbox(tmp_path / "home", served) as (cluster, settings):
        ids = zoho_deal_ids(cluster)
        stage_id, future_id = zoho_id("Deals", unknown_stage.key), zoho_id("Deals", future.key)
        others = [i for i in ids if i not in (stage_id, future_id)]
        negative, text, owner, no_close = others[:4]
        served_deal(cluster, negative)["Amount"] = -500.0
        served_deal(cluster, text)["Amount"] = "12k"
        served_deal(cluster, owner)["Owner"] = {"name": "Ghost", "id": "4000000000099999999", "email": "g@x"}
        closed = served_deal(cluster, no_close)
        closed["Stage"], closed["Closing_Date"] = "Closed Won", None
        land(settings, "run-1")
        result = gate(settings, "run-1")

    assert result.success, result.summary_markdown()  # one bad deal each: < 1 %, quarantined, not blocking
    held = {r["id"]: r for r in summary(settings, "run-1")}
    assert set(held) == {stage_id, future_id, negative, text, owner, no_close}
    assert all(r["new_in_run"] and r["source"] == "zoho" and r["object"] == "deals" for r in held.values())
    assert any(
        "stage is in the pipeline's stage list" in x and "Won-ish" in x for x in held[stage_id]["reasons"]
    )
    assert any("not in the future" in x for x in held[future_id]["reasons"])
    assert any("amount is not negative" in x for x in held[negative]["reasons"])
    assert any("amount is numeric" in x and "12k" in x for x in held[text]["reasons"])
    assert any("owner resolves to a Zoho user" in x for x in held[owner]["reasons"])
    assert any("closed deals have a close date" in x for x in held[no_close]["reasons"])

    # each class is a warning naming the deal; the quarantine is stored with the whole record
    assert check(result, "stage").severity == "warning"
    assert check(result, "stage").unexpected_examples == [{"id": stage_id, "stage": "Won-ish"}]
    assert check(result, "amount", "expect_column_values_to_be_between").unexpected_count == 1
    assert check(result, "owner_id", "expect_column_values_to_be_in_set").unexpected_count == 1
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        rows = conn.execute(
            "select run_id, source, object, id, expectation, reason, record->>'Deal_Name', quarantined_at "
            "from ops.quarantine where id = ?",
            [negative],
        ).fetchall()
    assert len(rows) == 1 and rows[0][:4] == ("run-1", "zoho", "deals", negative)
    assert rows[0][4] == "expect_column_values_to_be_between(amount)" and rows[0][6]

    # the data engineer's alert lists the quarantined rows with their reasons
    text_alert = alert_text(settings, result)
    assert "Quarantined rows (6)" in text_alert
    for rid in held:
        assert rid in text_alert
    assert "Won-ish" in text_alert


def test_systemic_problem_blocks_the_run(tmp_path: Path) -> None:
    served = company(deals=120)
    zoho = [d for d in served.deals if d.crm == "zoho"]
    for deal in zoho[:10]:  # ~16 % of the deals have a stage nobody mapped
        deal.stage = "Verbal Yes"
    with sandbox(tmp_path / "home", served) as (_, settings):
        land(settings, "run-1")
        result = gate(settings, "run-1")
    assert not result.success
    stage = next(r for r in result.critical_failures if r.column == "stage")
    assert stage.unexpected_count == 10 and stage.details["escalated"]
    assert "systemic" in stage.label
    assert len(summary(settings, "run-1")) == 10  # still quarantined, for the record
    text_alert = alert_text(settings, result)
    assert "FAILED" in text_alert and "Verbal Yes" in text_alert


def test_fixed_row_is_released_on_the_next_run(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company()) as (cluster, settings):
        bad = zoho_deal_ids(cluster)[0]
        served_deal(cluster, bad)["Amount"] = -1.0
        land(settings, "run-1")
        assert [r["id"] for r in gate(settings, "run-1").quarantined] == [bad]
        served_deal(cluster, bad)["Amount"] = 1000.0
        touch_zoho(cluster, "Deals", bad)
        land(settings, "run-2")
        second = gate(settings, "run-2", row_scope="run")  # only the changed and the quarantined rows
    assert second.quarantined == [] and second.success
    assert second.quarantine_counts["raw_zoho_deals"]["released"] == 1


def test_duplicate_id_in_the_feed_is_reported(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company()) as (cluster, settings):
        first, second = zoho_deal_ids(cluster)[:2]
        served_deal(cluster, second)["id"] = first  # two different deals served under one id
        land(settings, "run-1")
        result = gate(settings, "run-1")
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        assert conn.execute("select count(*) - count(distinct id) from raw.zoho_deals").fetchall()[0][0] == 0
    dup = next(r for r in result.warnings if r.column == "feed_duplicate_ids")
    assert dup.observed_value == 1 or "1" in str(dup.observed_value)
    assert "repeat ids" in alert_text(settings, result)


def test_missing_id_fails_the_fxiaoke_ingest_loudly(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company(deals=60)) as (cluster, settings):
        opportunities = cluster.fxiaoke._state.data.objects["OpportunityObj"]
        next(iter(opportunities.values()))["_id"] = ""
        with pytest.raises(IngestError, match=r"fxiaoke\.opportunities"):
            land(settings, "run-1", "fxiaoke", ["employees", "opportunities"])


def test_missing_id_in_zoho_is_quarantined_not_dropped(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company()) as (cluster, settings):
        served_deal(cluster, zoho_deal_ids(cluster)[0])["id"] = None
        land(settings, "run-1")
        result = gate(settings, "run-1")
    assert any("the record carries its id" in " ".join(r["reasons"]) for r in result.quarantined)


def test_a_95_percent_drop_between_runs_blocks(tmp_path: Path) -> None:
    with sandbox(tmp_path / "home", company(deals=120)) as (cluster, settings):
        land(settings, "run-1")
        first = gate(settings, "run-1", suites=["raw_zoho_deals"])
        live = len(zoho_deal_ids(cluster))
        cluster.zoho.simulate("Deals", delete=round(live * 0.95))
        land(settings, "run-2")
        second = gate(settings, "run-2", suites=["raw_zoho_deals"], row_scope="run")
    assert first.success, first.summary_markdown()
    assert not second.success
    drop = next(r for r in second.critical_failures if r.column == "live_ratio")
    assert drop.observed_value is not None and "near zero" in drop.label
    assert "near zero" in alert_text(settings, second)
