"""End to end: the nightly flow against the sandbox CRMs and a real SMTP server.

Each test runs the real Prefect flow in-process against HTTP sandbox servers on free ports, a
temporary SALESOPS_HOME and an aiosmtpd server writing to an outbox, then asserts on what
landed, what dbt built, what the gate decided and what arrived at the SMTP server.
"""

from __future__ import annotations

import email
from datetime import date
from email import policy
from pathlib import Path

import duckdb
import pytest

from flows.demo import demo_environment
from flows.nightly import monthly_commissions, nightly, weekly_manager_report
from flows.pipeline import StepFailed
from flows.sandbox.company import generate_company

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

RUN_DATE = date(2026, 11, 28)


def _company(**overrides):
    # Two reps per team, so every manager has a rep with numbers this month.
    params = {"seed": 7, "reps": 16, "deals": 240, "as_of": RUN_DATE} | overrides
    return generate_company(**params)


def _messages(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


def _query(home: Path, sql: str):
    with duckdb.connect(str(home / "warehouse.duckdb")) as conn:
        return conn.execute(sql).fetchall()


def test_nightly_lands_builds_checks_and_emails(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = _company()
    zoho, fx = company.for_crm("zoho"), company.for_crm("fxiaoke")

    with demo_environment(home, company):
        summary = nightly(run_date=RUN_DATE)
        weekly = weekly_manager_report(run_date=date(2026, 11, 30))  # Monday
        export = Path(monthly_commissions(run_date=date(2026, 12, 1)))

    assert summary.status == "completed"
    # landed: every deal of each CRM, once
    assert _query(home, "select count(*), count(distinct id) from raw.zoho_deals")[0] == (
        len(zoho.deals),
        len(zoho.deals),
    )
    assert _query(home, "select count(*) from raw.fxiaoke_opportunities")[0][0] == len(fx.deals)
    landed = {(r["source"], r["object"]): r for r in summary.landed}
    assert landed[("zoho", "deals")]["rows_inserted"] == len(zoho.deals)
    assert _query(home, "select count(*) from ops.ingest_runs where status = 'succeeded'")[0][0] == len(
        summary.landed
    )

    # dbt built the marts from both CRMs
    assert summary.marts["fct_deals"] == len(company.deals)
    assert summary.marts["fct_rep_scorecard"] > 0
    assert _query(home, "select count(distinct source) from marts.fct_deals")[0][0] == 2
    won = sum(1 for d in company.deals if d.stage_category == "won")
    assert _query(home, "select count(*) from marts.fct_deals where is_won")[0][0] == won

    # the gate ran and passed
    assert summary.checks_passed > 0 and not summary.critical_failures
    assert _query(home, f"select count(*) from ops.validation_results where run_id = '{summary.run_id}'")[0][
        0
    ] == (summary.checks_passed + summary.checks_failed)

    # one manager report per manager arrived at the SMTP server, with HTML and text
    managers = {u.email for u in company.users if u.role == "manager"}
    messages = _messages(home / "outbox")
    assert {m["To"] for m in messages} == managers
    for msg in messages:
        assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None
    assert {e.recipient for e in summary.emails if e.status == "sent"} == managers
    assert len(list((home / "reports").glob("*.html"))) >= len(managers)

    # the weekly report is its own period: it goes out even though the daily one did
    assert {e.recipient for e in weekly if e.status == "sent"} == managers
    assert all(e.subject.startswith("[weekly]") for e in weekly)
    # the monthly commission run exports November's lines, reconciling to the mart
    lines = export.read_text().splitlines()
    assert export.name == "commissions_2026-11.csv" and lines[0].startswith("commission_line_id")
    (expected,) = _query(
        home, "select count(*) from marts.fct_commissions where period_month = '2026-11-01'"
    )[0]
    assert len(lines) - 1 == expected > 0


def test_second_run_lands_nothing_twice_and_sends_nothing_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = _company(deals=120)
    with demo_environment(home, company):
        nightly(run_date=RUN_DATE)
        first_mail = len(_messages(home / "outbox"))
        again = nightly(run_date=RUN_DATE)
        assert len(_messages(home / "outbox")) == first_mail
        assert {e.status for e in again.emails} == {"skipped_duplicate"}
        assert all(r["rows_inserted"] == 0 and r["rows_updated"] == 0 for r in again.landed)
        forced = nightly(run_date=RUN_DATE, resend=True)
        assert {e.status for e in forced.emails} == {"sent"}
        assert len(_messages(home / "outbox")) == 2 * first_mail
    assert _query(home, "select count(*) - count(distinct id) from raw.zoho_deals")[0][0] == 0


def test_crm_outage_fails_the_run_naming_step_and_object(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SALESOPS_HTTP_BACKOFF_BASE_SECONDS", "0.01")
    monkeypatch.setenv("SALESOPS_HTTP_BACKOFF_MAX_SECONDS", "0.05")
    with demo_environment(home, _company(deals=60)) as cluster:
        cluster.zoho.faults.server_errors = 10_000  # every CRM call answers 502 with an HTML page
        cluster.zoho.faults.server_error_status = 502
        cluster.zoho.faults.server_error_body = "html"
        cluster.zoho.faults.fault_path = "/crm/v8/Deals"
        with pytest.raises(StepFailed) as failure:
            nightly(run_date=RUN_DATE)
    message = str(failure.value)
    assert "step 'ingest' (zoho.deals)" in message and "502" in message
    assert _query(home, "select status from ops.ingest_runs where object = 'deals'") == [("failed",)]
    assert not list((home / "outbox").glob("*.eml")), "no report may go out after a failed ingest"


def test_bad_data_blocks_reports_and_alerts_data_engineers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = _company(deals=120)
    bad = next(d for d in company.deals if d.crm == "zoho")
    bad.amount = -bad.amount  # a negative amount is a critical raw check
    with demo_environment(home, company), pytest.raises(StepFailed) as failure:
        nightly(run_date=RUN_DATE)
    assert "data checks" in str(failure.value)
    messages = _messages(home / "outbox")
    managers = {u.email for u in company.users if u.role == "manager"}
    assert messages and not ({m["To"] for m in messages} & managers), "no manager report on a failed gate"
    alert = messages[0].get_body(("plain",)).get_content()
    assert "amount" in alert.lower()
