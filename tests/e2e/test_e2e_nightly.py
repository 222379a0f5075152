"""End to end: the nightly flow against the sandbox CRMs and a real SMTP server.

Each test runs the real Prefect flow in-process against HTTP sandbox servers on free ports, a
temporary SALESOPS_HOME and an aiosmtpd server writing to an outbox, then asserts on what
landed, what dbt built, what the gate decided and what arrived at the SMTP server.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest
from e2e_support import PUBLISHED_DEALS, RUN_DATE, demo_company, email_kind, outbox_messages, query_work
from reader_support import Reader

from flows.cli.demo import demo_environment
from flows.monthly import monthly_commissions
from flows.nightly import nightly
from flows.pipeline.summary import StepFailed
from flows.weekly import weekly_manager_report

# A nightly run takes about a minute (dbt builds every mart); the second-run test makes three.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def night(prefect_harness, tmp_path_factory):
    """One nightly run shared by the tests of the weekly and monthly flows (each has its own timeout);
    the sandbox CRMs and the SMTP server stay up for them."""
    home = tmp_path_factory.mktemp("night") / "home"
    company = demo_company()
    with demo_environment(home, company):
        summary = nightly(run_date=RUN_DATE)
        yield home, company, summary


def test_nightly_lands_builds_checks_and_emails(night) -> None:
    home, company, summary = night
    zoho, fx = company.for_crm("zoho"), company.for_crm("fxiaoke")

    assert summary.status == "completed"
    # landed: every deal of each CRM, once
    assert query_work(home, "select count(*), count(distinct id) from raw.zoho_deals")[0] == (
        len(zoho.deals),
        len(zoho.deals),
    )
    assert query_work(home, "select count(*) from raw.fxiaoke_opportunities")[0][0] == len(fx.deals)
    landed = {(r["source"], r["object"]): r for r in summary.landed}
    assert landed[("zoho", "deals")]["rows_inserted"] == len(zoho.deals)
    assert query_work(home, "select count(*) from ops.ingest_runs where status = 'succeeded'")[0][0] == len(
        summary.landed
    )

    # dbt built the marts from both CRMs
    assert summary.marts["fct_deals"] == len(company.deals)
    assert summary.marts["fct_rep_scorecard"] > 0
    assert query_work(home, "select count(distinct source) from marts.fct_deals")[0][0] == 2
    won = sum(1 for d in company.deals if d.stage_category == "won")
    assert query_work(home, "select count(*) from marts.fct_deals where is_won")[0][0] == won

    # dbt ran as one invocation; its nodes are a table artifact of the flow run, failures first
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[summary.run_id]))
        )
    nodes = [a for a in artifacts if a.key == "dbt-nodes"]
    assert nodes, [a.key for a in artifacts]
    # one per dbt invocation: the build, and the commission marts rebuilt after the engine
    table = [row for a in nodes for row in (json.loads(a.data) if isinstance(a.data, str) else a.data)]
    assert {"fct_deals", "stg_zoho__deals"} <= {row["node"] for row in table}
    statuses = {row["status"] for row in table}
    assert statuses <= {"success", "pass", "warn", "no-op"}, statuses

    # the gate ran and passed
    assert summary.checks_passed > 0 and not summary.critical_failures
    assert query_work(home, f"select count(*) from ops.validation_results where run_id = '{summary.run_id}'")[
        0
    ][0] == (summary.checks_passed + summary.checks_failed)

    # the marts passed the gate, so they were published for readers: a marts-only DuckDB file
    # and one Parquet file per mart, with the same rows as the working file
    published = home / "warehouse.duckdb"
    with duckdb.connect(str(published), read_only=True) as reader:
        schemas = {
            s for (s,) in reader.execute("select schema_name from information_schema.schemata").fetchall()
        }
        assert "raw" not in schemas and "ops" not in schemas
        assert reader.execute("select run_id from main.salesops_publish").fetchone()[0] == summary.run_id
        assert reader.execute("select count(*) from marts.fct_deals").fetchone()[0] == len(company.deals)
    manifest = json.loads((home / "marts" / "_manifest.json").read_text())
    assert manifest["run_id"] == summary.run_id and set(manifest["tables"]) == set(summary.marts)
    with duckdb.connect() as mem:
        parquet = mem.execute(f"select count(*) from '{home / 'marts' / 'fct_deals.parquet'}'").fetchone()[0]
    assert parquet == len(company.deals)
    assert not list(home.glob(".*.tmp")) and not list((home / "marts").glob(".*.tmp"))

    # one manager report per manager arrived at the SMTP server, with HTML and text
    managers = {u.email for u in company.users if u.role == "manager"}
    messages = outbox_messages(home / "outbox")
    daily = [m for m in messages if email_kind(m) == "manager_daily"]
    assert {m["To"] for m in daily} == managers and len(daily) == len(managers)
    for msg in daily:
        assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None
        assert any(p.get_content_maintype() == "image" and p["Content-ID"] for p in msg.walk())
    assert {e.recipient for e in summary.emails if e.status == "sent"} == managers
    assert len(list((home / "reports").glob("manager_daily_*.html"))) == len(managers)


def test_dbt_docs_generate_documents_every_mart_and_the_exposures(night) -> None:
    """`dbt docs generate` works on the nightly's warehouse: the catalog has every mart with its
    columns, the manifest every mart's and column's description and the BI exposures."""
    from flows.config.settings import Settings, patched_environ
    from flows.warehouse.dbt_runner import run_dbt

    home, _, summary = night
    with patched_environ({"SALESOPS_HOME": str(home)}):
        settings = Settings()
        run_dbt(settings, ["docs", "generate"])
    target = home / "dbt_target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    in_catalog = {
        n["metadata"]["name"]: n for n in catalog["nodes"].values() if n["metadata"]["schema"] == "marts"
    }
    assert set(summary.marts) <= set(in_catalog)
    marts = {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == "marts"
    }
    for name in summary.marts:
        node = marts[name]
        assert node["description"].strip(), name
        undocumented = [
            c for c in in_catalog[name]["columns"] if not node["columns"].get(c, {}).get("description")
        ]
        assert not undocumented, (name, undocumented)
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"manager_report", "sales_performance_dashboard"} <= set(exposures)
    assert all(e["depends_on"]["nodes"] for e in exposures.values())


def test_activities_reach_the_rep_scorecard(night) -> None:
    """Zoho tasks, calls and events land, and every completed one counts once in the scorecard;
    Fxiaoke reps (no activity object) have null activity columns, not 0."""
    home, company, summary = night
    zoho = company.for_crm("zoho")
    assert summary.status == "completed"
    for table, kind in [("zoho_tasks", "task"), ("zoho_calls", "call"), ("zoho_events", "event")]:
        expected = sum(1 for a in zoho.activities if a.kind == kind)
        assert query_work(home, f"select count(*) from raw.{table}")[0][0] == expected > 0, table

    def completed(a) -> bool:
        if a.kind == "task":
            return a.status == "Completed"
        if a.kind == "call":
            return a.call_type != "Missed" and a.status != "Scheduled"
        return a.start_at.date() <= RUN_DATE

    done = [a for a in zoho.activities if completed(a)]
    calls = sum(1 for a in done if a.kind == "call")
    rows = query_work(
        home,
        """select r.source, count(*), count(s.activities_count), sum(s.activities_count),
                  sum(s.calls_count), sum(s.meetings_count), sum(s.tasks_completed)
           from marts.fct_rep_scorecard as s join marts.dim_sales_reps as r using (rep_id)
           group by 1""",
    )
    by_source = {r[0]: r[1:] for r in rows}
    n, n_set, total, n_calls, meetings, tasks = by_source["zoho"]
    assert n_set == n  # every Zoho rep-month has counts (0 when nothing was logged)
    assert (total, n_calls) == (len(done), calls) and total == n_calls + meetings + tasks
    assert by_source["fxiaoke"][1] == 0  # Fxiaoke: null, never 0
    company_year = query_work(
        home,
        """select sum(activities_count), count(sales_velocity_per_day) from marts.fct_sales_scorecard
           where scorecard_level = 'company' and period_grain = 'year'""",
    )[0]
    assert company_year[0] == len(done) and company_year[1] > 0
    # velocity and coverage are populated on the generated company too
    velocity, coverage = query_work(
        home,
        "select count(sales_velocity_per_day), count(pipeline_coverage) from marts.fct_rep_scorecard",
    )[0]
    assert velocity > 0 and coverage > 0


def test_weekly_report_is_its_own_period(night) -> None:
    home, company, _ = night
    managers = {u.email for u in company.users if u.role == "manager"}
    weekly = weekly_manager_report(run_date=date(2026, 11, 30))  # Monday: the week ending Sunday 29th
    # the weekly report is its own period: it goes out even though the daily one did
    assert {e.recipient for e in weekly if e.status == "sent"} == managers
    assert all(e.subject.startswith("[weekly]") for e in weekly)
    assert len(list((home / "reports").glob("manager_weekly_2026-W48_*.html"))) == len(managers)


def test_monthly_close_exports_and_sends_statements_and_finance(night) -> None:
    home, _, _ = night
    export = Path(monthly_commissions(run_date=date(2026, 12, 1)))
    # the monthly commission run exports November's lines, reconciling to the mart
    lines = export.read_text(encoding="utf-8-sig").splitlines()
    assert export.name == "commissions_2026-11.csv" and lines[0].startswith("commission_line_id")
    (expected,) = query_work(
        home, "select count(*) from marts.fct_commissions where period_month = '2026-11-01'"
    )[0]
    assert len(lines) - 1 == expected > 0
    # the plan's pay-on-collection component paid on the CRMs' payments
    assert (
        query_work(home, "select count(*) from marts.fct_commissions where credit_basis = 'collection'")[0][0]
        > 0
    )

    # ... and e-mails one statement per rep with lines, to that rep only, with their own total
    per_rep = dict(
        query_work(
            home,
            "select r.email, sum(c.commission_amount) from marts.fct_commissions c "
            "join marts.dim_sales_reps r using (rep_id) where period_month = '2026-11-01' group by 1",
        )
    )
    statements = [m for m in outbox_messages(home / "outbox") if email_kind(m) == "commission_statement"]
    assert sorted(m["To"] for m in statements) == sorted(per_rep)
    for msg in statements:
        text = msg.get_body(("plain",)).get_content()
        assert f"{per_rep[msg['To']]:,.2f}" in text  # the rep's own total, in any currency format
    # ... and the finance summary with the payroll export as CSV and XLSX, reconciling to the mart
    (finance,) = [m for m in outbox_messages(home / "outbox") if email_kind(m) == "finance_summary"]
    assert finance["To"] == "finance@salesops-demo.com"
    files = {p.get_filename(): p.get_payload(decode=True) for p in finance.iter_attachments()}
    assert set(files) == {"payroll_2026-11.csv", "payroll_2026-11.xlsx"}
    rows = list(csv.DictReader(io.StringIO(files["payroll_2026-11.csv"].decode("utf-8-sig"))))
    total = rows.pop()  # the totals row
    assert total["rep_id"] == "TOTAL" and float(total["payable_amount"]) == pytest.approx(
        float(sum(per_rep.values()))
    )
    assert {r["email"] for r in rows} == set(per_rep)
    assert {r["period_status"] for r in rows} == {"closed"}  # the monthly flow closed November
    assert sum(float(r["payable_amount"]) for r in rows) == pytest.approx(float(sum(per_rep.values())))
    sheet = openpyxl.load_workbook(io.BytesIO(files["payroll_2026-11.xlsx"]))["payroll"]
    assert sheet.max_row == len(rows) + 2  # header, one row per rep, totals


def test_second_run_lands_nothing_twice_and_sends_nothing_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = demo_company(deals=120)
    with demo_environment(home, company):
        first = nightly(run_date=RUN_DATE)
        first_mail = len(outbox_messages(home / "outbox"))
        # a BI tool holds the published file open (read-only) across the next run
        reader = Reader(home / "warehouse.duckdb", PUBLISHED_DEALS)
        try:
            before = reader.read()
            assert before.startswith(first.run_id)
            again = nightly(run_date=RUN_DATE)  # succeeds although the reader holds the file
            assert reader.read() == before, "the open reader keeps its consistent old snapshot"
            fresh = Reader(home / "warehouse.duckdb", PUBLISHED_DEALS)
            try:
                assert fresh.read().startswith(again.run_id), "a new reader sees the new publish"
            finally:
                fresh.close()
        finally:
            reader.close()
        assert len(outbox_messages(home / "outbox")) == first_mail
        assert {e.status for e in again.emails} == {"skipped_duplicate"}
        assert all(r["rows_inserted"] == 0 and r["rows_updated"] == 0 for r in again.landed)
        forced = nightly(run_date=RUN_DATE, resend=True)
        assert {e.status for e in forced.emails} == {"sent"}
        assert len(outbox_messages(home / "outbox")) == 2 * first_mail
    assert query_work(home, "select count(*) - count(distinct id) from raw.zoho_deals")[0][0] == 0


def test_crm_outage_fails_the_run_naming_step_and_object(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SALESOPS_HTTP_BACKOFF_BASE_SECONDS", "0.01")
    monkeypatch.setenv("SALESOPS_HTTP_BACKOFF_MAX_SECONDS", "0.05")
    with demo_environment(home, demo_company(deals=60)) as cluster:
        cluster.zoho.faults.server_errors = 10_000  # every CRM call answers 502 with an HTML page
        cluster.zoho.faults.server_error_status = 502
        cluster.zoho.faults.server_error_body = "html"
        cluster.zoho.faults.fault_path = "/crm/v8/Deals"
        with pytest.raises(StepFailed) as failure:
            nightly(run_date=RUN_DATE)
    message = str(failure.value)
    assert "step 'ingest' (zoho.deals)" in message and "502" in message
    assert query_work(home, "select status from ops.ingest_runs where object = 'deals'") == [("failed",)]
    # the failed run's ingest-runs artifact still shows what landed and the object that failed
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        (latest,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-runs"])),
            limit=1,
            sort=ArtifactSort.CREATED_DESC,
        )
    table = json.loads(latest.data) if isinstance(latest.data, str) else latest.data
    statuses = {(row["source"], row["object"]): row["status"] for row in table}
    assert statuses[("zoho", "deals")] == "failed" and statuses[("zoho", "users")] == "succeeded"
    messages = outbox_messages(home / "outbox")
    assert [email_kind(m) for m in messages] == ["run_failed"], "no report may go out after a failed ingest"
    assert messages[0]["To"] == "data-engineers@salesops-demo.com"
    assert "zoho.deals" in messages[0].get_body(("plain",)).get_content()
    assert not (home / "warehouse.duckdb").exists(), "nothing is published by a failed run"


def test_bad_data_blocks_reports_and_alerts_data_engineers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = demo_company(deals=120)
    bad = next(d for d in company.deals if d.crm == "zoho")
    bad.amount = -bad.amount  # a negative amount is a critical raw check
    with demo_environment(home, company), pytest.raises(StepFailed) as failure:
        nightly(run_date=RUN_DATE)
    assert "data checks" in str(failure.value)
    messages = outbox_messages(home / "outbox")
    managers = {u.email for u in company.users if u.role == "manager"}
    assert messages and not ({m["To"] for m in messages} & managers), "no manager report on a failed gate"
    assert [email_kind(m) for m in messages] == ["dq_alert"]  # one alert, not a second run-failed one
    alert = messages[0].get_body(("plain",)).get_content()
    assert "amount" in alert.lower()
    assert not (home / "warehouse.duckdb").exists() and not (home / "marts").exists(), "nothing published"


def test_one_bad_deal_is_quarantined_and_the_rest_publishes(tmp_path: Path) -> None:
    """Below 1 % of a table, a bad row is held back, not a stop: everything else publishes and
    the data engineers and the deal owner's manager are told which row and why."""
    home = tmp_path / "home"
    company = demo_company()  # about 120 Zoho deals: one bad deal is under 1 % of the table
    bad = next(d for d in company.deals if d.crm == "zoho" and d.stage_category == "won")
    bad.amount = -bad.amount
    with demo_environment(home, company):
        summary = nightly(run_date=RUN_DATE)
    assert summary.status == "completed" and summary.quarantined == 1
    deal_ids = query_work(home, "select source_deal_id from marts.fct_deals where source = 'zoho'")
    quarantined = query_work(home, "select id, reason from ops.quarantine")
    assert len(quarantined) >= 1 and quarantined[0][0] not in {d for (d,) in deal_ids}
    messages = outbox_messages(home / "outbox")
    assert "dq_alert" in [email_kind(m) for m in messages]
    owner = next(u for u in company.users if u.key == bad.owner_key)
    manager = next(u for u in company.users if u.key == owner.manager_key)
    footnote = next(m for m in messages if m["To"] == manager.email).get_body(("plain",)).get_content()
    assert bad.name in footnote
