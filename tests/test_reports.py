"""Manager reports rendered from a hand-built dim_sales_reps + fct_rep_scorecard, and the DQ alert."""

from __future__ import annotations

import re
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import duckdb
import pytest

from flows.checks import CheckResult, GateResult
from flows.emailer import send_report
from flows.reports import (
    CHART_CID,
    build_alert_report,
    build_manager_reports,
    render_attainment_chart,
    write_report_html,
)
from flows.settings import Settings
from flows.smtp_outbox import LocalSmtpServer

RUN_DATE = date(2026, 11, 28)
NOV, OCT = date(2026, 11, 1), date(2026, 10, 1)

REPS = [
    # rep_id, name, email, role, team, manager_id, is_active
    ("d1", "Dana Director", "dana@example.com", "director", "North America", None, True),
    ("m1", "Mia Manager", "mia@example.com", "manager", "NA East", "d1", True),
    ("r1", "Liam Rossi", "liam@example.com", "rep", "NA East", "m1", True),
    ("r2", "Emma Novak", "emma@example.com", "rep", "NA East", "m1", True),
    ("r3", "Noah New", "noah@example.com", "rep", "NA East", "m1", True),  # no numbers this month yet
    ("r4", "Olga Gone", "olga@example.com", "rep", "NA East", "m1", False),  # left, nothing this month
    ("m2", "王伟", "wang.wei@example.com", "manager", "华东一组", "d1", True),
    ("r5", "李娜", "li.na@example.com", "rep", "华东一组", "m2", True),
    ("m3", "Eve Empty", "eve@example.com", "manager", "Empty team", "d1", True),  # no reps: no report
]
SCORECARD = [
    # rep_id, month, won, deals_won, deals_lost, win_rate, open, weighted, target, attainment
    ("r1", NOV, "50000.00", 2, 1, 2 / 3, "80000.00", "40000.00", "100000.00", 0.5),
    ("r2", NOV, "120000.00", 3, 0, 1.0, "10000.00", "9000.00", "100000.00", 1.2),
    ("r1", OCT, "999999.00", 9, 0, 1.0, "0", "0", "100000.00", 9.99),  # another month: ignored
    ("r4", OCT, "1000.00", 1, 0, 1.0, "0", "0", "100000.00", 0.01),
    ("r5", NOV, "30000.00", 1, 1, 0.5, "5000.00", "1000.00", "40000.00", 0.75),
]


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    c.execute("create schema marts")
    c.execute(
        """
        create table marts.dim_sales_reps (
            rep_id varchar, source varchar, source_user_id varchar, rep_name varchar, email varchar,
            role varchar, team_name varchar, region_name varchar, manager_id varchar, manager_name varchar,
            manager_email varchar, hired_on date, left_on date, is_active boolean
        )"""
    )
    for rep_id, name, email, role, team, manager_id, active in REPS:
        c.execute(
            "insert into marts.dim_sales_reps values (?, 'zoho', ?, ?, ?, ?, ?, 'Region', ?, null, null, "
            "date '2024-01-01', null, ?)",
            [rep_id, rep_id, name, email, role, team, manager_id, active],
        )
    c.execute(
        """
        create table marts.fct_rep_scorecard (
            rep_id varchar, rep_name varchar, email varchar, team_name varchar, region_name varchar,
            manager_name varchar, manager_email varchar, period_month date, won_amount decimal(18, 2),
            deals_won integer, deals_lost integer, win_rate double, avg_deal_size decimal(18, 2),
            open_pipeline_amount decimal(18, 2), weighted_pipeline_amount decimal(18, 2),
            target_amount decimal(18, 2), attainment double
        )"""
    )
    for rep, month, won, dw, dl, wr, openp, weighted, target, att in SCORECARD:
        c.execute(
            "insert into marts.fct_rep_scorecard values "
            "(?, null, null, null, null, null, null, ?, ?, ?, ?, ?, null, ?, ?, ?, ?)",
            [rep, month, won, dw, dl, wr, openp, weighted, target, att],
        )
    yield c
    c.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", reporting_currency="USD")


def cells(html: str, label: str) -> list[str]:
    """The text of every cell of the table row that starts with ``label``."""
    row = re.search(r"<tr[^>]*>\s*<td[^>]*>" + re.escape(label) + r"</td>(.*?)</tr>", html, re.S)
    assert row, f"no row {label!r}"
    return [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_one_report_per_manager_with_correct_numbers(conn, settings):
    reports = build_manager_reports(conn, settings, run_date=RUN_DATE)

    assert [r.recipients for r in reports] == [["mia@example.com"], ["wang.wei@example.com"]]
    mia = reports[0]
    assert mia.kind == "manager_daily" and mia.period_key == "2026-11-28"
    assert "NA East" in mia.subject and "November 2026" in mia.subject
    html = mia.html
    # columns: won, target, attainment, won/lost, win rate, open pipeline
    assert cells(html, "Emma Novak") == ["120,000", "100,000", "120.0%", "3 / 0", "100.0%", "10,000"]
    assert cells(html, "Liam Rossi") == ["50,000", "100,000", "50.0%", "2 / 1", "66.7%", "80,000"]
    assert cells(html, "Noah New") == ["–", "–", "–", "0 / 0", "–", "–"]
    assert cells(html, "Team total") == ["170,000", "200,000", "85.0%", "5 / 1", "83.3%", "90,000"]
    assert "Olga Gone" not in html and "Mia Manager" not in cells(html, "Team total")
    assert html.index("Emma Novak") < html.index("Liam Rossi")  # best attainment first
    # e-mail safe: no scripts, no external assets, no <style> blocks, chart by content id
    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert f'src="cid:{CHART_CID}"' in html
    assert mia.inline_images[CHART_CID].startswith(b"\x89PNG")
    # plain-text alternative carries the same numbers
    assert re.search(r"Team total\s+170,000\s+200,000\s+85\.0%\s+5/1\s+83\.3%\s+90,000", mia.text)
    assert "Emma Novak" in mia.text

    wang = reports[1]
    assert cells(wang.html, "李娜") == ["30,000", "40,000", "75.0%", "1 / 1", "50.0%", "5,000"]


def test_names_are_html_escaped(conn, settings):
    conn.execute("update marts.dim_sales_reps set rep_name = '<b>Liam</b> & Co' where rep_id = 'r1'")
    html = build_manager_reports(conn, settings, run_date=RUN_DATE)[0].html
    assert "&lt;b&gt;Liam&lt;/b&gt; &amp; Co" in html and "<b>Liam" not in html


def test_write_report_html_embeds_chart(conn, settings):
    report = build_manager_reports(conn, settings, run_date=RUN_DATE)[0]
    path = write_report_html(report, settings)
    assert path.parent == settings.reports_dir
    assert path.name == "manager_daily_2026-11-28_mia@example.com.html"
    saved = path.read_text("utf-8")
    assert "cid:" not in saved and "data:image/png;base64," in saved


def test_report_sent_through_smtp_keeps_cid(conn, settings, tmp_path):
    report = build_manager_reports(conn, settings, run_date=RUN_DATE)[0]
    outbox = tmp_path / "outbox"
    with LocalSmtpServer(outbox) as server:
        smtp_settings = settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port})
        results = send_report(
            conn,
            smtp_settings,
            kind=report.kind,
            period_key=report.period_key,
            recipients=report.recipients,
            subject=report.subject,
            html=report.html,
            text=report.text,
            inline_images=report.inline_images,
        )
    assert [r.status for r in results] == ["sent"]
    (eml,) = outbox.glob("*.eml")
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    assert msg["Subject"] == report.subject
    (image,) = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert image["Content-ID"] == f"<{CHART_CID}>"
    assert f"cid:{CHART_CID}" in msg.get_body(preferencelist=("html",)).get_content()


def test_chart_handles_missing_values():
    png = render_attainment_chart(["a", "b"], [None, 2.5])
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def test_alert_report_lists_failures_with_examples(settings):
    gate = GateResult(
        run_id="run-7",
        results=[
            CheckResult(
                "raw_zoho_deals",
                "expect_column_values_to_be_in_set",
                "stage",
                "critical",
                False,
                "1.00% unexpected of 100",
                1,
                [{"id": "4001", "stage": "Won-ish"}],
                description="stage is one of the Zoho pipeline stages",
            ),
            CheckResult(
                "marts_rep_scorecard",
                "expect_column_values_to_be_between",
                "attainment",
                "warning",
                False,
                None,
                2,
                [{"rep_id": "r9", "attainment": 4.2}],
            ),
            CheckResult(
                "marts_commissions",
                "expect_column_values_to_be_unique",
                "commission_line_id",
                "critical",
                True,
                None,
                0,
                [],
            ),
        ],
    )
    alert = build_alert_report(None, settings, gate=gate, run_date=RUN_DATE, recipients=["data@example.com"])
    assert alert.kind == "dq_alert" and alert.period_key == "run-7"
    assert alert.recipients == ["data@example.com"]
    assert "FAILED" in alert.subject and "2026-11-28" in alert.subject
    assert "stage is one of the Zoho pipeline stages" in alert.html
    assert "Won-ish" in alert.html and "r9" in alert.html
    assert "expect_column_values_to_be_unique" not in alert.html  # passed checks are not listed
    assert "Won-ish" in alert.text


def test_alert_defaults_to_pipeline_mailbox(settings):
    gate = GateResult(run_id="run-8", results=[])
    alert = build_alert_report(
        None,
        settings.model_copy(update={"mail_from": "SalesOps <ops@example.com>"}),
        gate=gate,
        run_id="run-8b",
    )
    assert alert.recipients == ["ops@example.com"] and alert.period_key == "run-8b"
