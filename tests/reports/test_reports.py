"""Manager reports rendered from a hand-built dim_sales_reps + fct_rep_scorecard, and the DQ alert."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from email import policy
from email.parser import BytesParser

import duckdb
import pytest
from reports_support import (
    RUN_DATE,
    RejectingHandler,
    add_commissions,
    add_deals,
    cells,
)

from flows.quality.results import CheckResult, GateResult
from flows.reports.alerts import build_alert_report
from flows.reports.charts import render_attainment_chart
from flows.reports.emailer import send_report
from flows.reports.finance import build_finance_summary
from flows.reports.formatting import Fmt
from flows.reports.html_files import write_report_html
from flows.reports.manager_report import CHART_CID, build_manager_reports
from flows.reports.statements import build_commission_statements
from flows.sandbox.smtp_outbox import LocalSmtpServer


def test_one_report_per_manager_with_correct_numbers(conn, settings):
    reports = build_manager_reports(conn, settings, run_date=RUN_DATE)

    assert [r.recipients for r in reports] == [["mia@example.com"], ["wang.wei@example.com"]]
    mia = reports[0]
    assert mia.kind == "manager_daily" and mia.period_key == "2026-11-28"
    assert "NA East" in mia.subject and "November 2026" in mia.subject
    html = mia.html
    # columns: won, target, attainment, target to date, pace, won/lost, win rate, open pipeline. Without the
    # day-grain targets mart, the target to date is the month's × 28/30 days (93,333.33 of 100,000)
    assert cells(html, "Emma Novak") == [
        "120,000", "100,000", "120.0%", "93,333", "128.6%", "3 / 0", "100.0%", "10,000",
    ]  # fmt: skip
    assert cells(html, "Liam Rossi") == [
        "50,000", "100,000", "50.0%", "93,333", "53.6%", "2 / 1", "66.7%", "80,000",
    ]  # fmt: skip
    assert cells(html, "Noah New") == ["–", "–", "–", "–", "–", "0 / 0", "–", "–"]
    assert cells(html, "Team total") == [
        "170,000", "200,000", "85.0%", "186,667", "91.1%", "5 / 1", "83.3%", "90,000",
    ]  # fmt: skip
    assert "Olga Gone" not in html and "Mia Manager" not in cells(html, "Team total")
    assert html.index("Emma Novak") < html.index("Liam Rossi")  # best attainment first
    # e-mail safe: no scripts, no external assets, no <style> blocks, chart by content id
    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?:""", html)
    assert f'src="cid:{CHART_CID}"' in html
    assert mia.inline_images[CHART_CID].startswith(b"\x89PNG")
    # plain-text alternative carries the same numbers
    assert re.search(
        r"Team total\s+170,000\s+200,000\s+85\.0%\s+186,667\s+91\.1%\s+5/1\s+83\.3%\s+90,000", mia.text
    )
    assert "Emma Novak" in mia.text

    wang = reports[1]
    assert cells(wang.html, "李娜") == [
        "30,000", "40,000", "75.0%", "37,333", "80.4%", "1 / 1", "50.0%", "5,000",
    ]  # fmt: skip


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


# --- sections from optional marts, languages ----------------------------------------------------


def test_sections_appear_only_for_marts_that_exist(conn, settings):
    html = build_manager_reports(conn, settings, run_date=RUN_DATE)[0].html
    for title in ("Stalled deals", "Top customers", "Funnel", "At-risk customers"):
        assert title not in html  # no fct_deals, fct_funnel or customer marts yet
    assert "Pipeline and coverage" in html and "No data-check results recorded." in html

    add_deals(conn)
    # no row flagged is_bottleneck: the report takes the stage with the lowest conversion
    conn.execute(
        "create table marts.fct_funnel as select 'month' as period_grain, 'team' as funnel_level, "
        "date '2026-11-01' as period_start, 'zoho' as source, * from (values "
        "('NA East', 1, 'Qualify', 40, 0.5, 3.0, false), ('NA East', 2, 'Proposal', 20, 0.25, 9.5, false), "
        "('NA East', 3, 'Negotiate', 5, 0.8, 4.0, false), ('华东一组', 1, 'Qualify', 9, 0.1, 1.0, false)) "
        "t(team_name, stage_order, stage, deals_entered, conversion_rate, median_days_in_stage, "
        "is_bottleneck)"
    )
    conn.execute(
        "create table marts.dim_customers as select * from (values "
        "('zoho:a1', 'Acme Corp', 'r1'), ('zoho:a2', 'Globex', 'r2')) "
        "t(account_id, account_name, owner_rep_id)"
    )
    conn.execute(
        "create table marts.fct_customer_risk as select * from (values "
        "('zoho:a1', 'Acme Corp', 'r1', false, null), ('zoho:a2', 'Globex', 'r2', true, 'overdue 95 days')) "
        "t(account_id, account_name, owner_rep_id, is_high_risk, risk_reasons)"
    )
    conn.execute(
        "create schema ops; create table ops.validation_results as select * from (values "
        "('run-1', timestamptz '2026-11-28 01:00:00+00', 'critical', true), "
        "('run-1', timestamptz '2026-11-28 01:00:00+00', 'warning', false)) "
        "t(run_id, checked_at, severity, success)"
    )
    mia = build_manager_reports(conn, settings, run_date=RUN_DATE)[0]
    html = mia.html
    assert "Funnel — bottleneck: Proposal" in html  # lowest conversion of Mia's team
    assert "Old stuck deal" in html and "Fresh deal" not in html and "Other team" not in html
    assert cells(html, "Acme Corp") == ["120,000", "2"] and "Globex" in html
    assert "At-risk customers" in html and "overdue 95 days" in html
    assert "Data checks of run run-1: 1 passed, 1 failed (0 critical)." in html
    assert "Old stuck deal" in mia.text and "Acme Corp" in mia.text
    assert cells(html, "Liam Rossi")[:3] == ["50,000", "100,000", "50.0%"]


def test_a_section_mart_without_a_contracted_column_fails_the_report_naming_it(conn, settings):
    """fct_stalled_deals' contract has usual_days_in_stage: a mart without it is an error that names the
    column, not a stalled-deals section quietly left out of the report."""
    conn.execute(
        "create table marts.fct_stalled_deals as select * from (values "
        "('Old stuck deal', 'r1', 'Proposal', 80000.00, date '2026-12-20', 88)) "
        "t(deal_name, rep_id, stage, amount_reporting, close_date, days_in_stage)"
    )
    with pytest.raises(duckdb.BinderException, match="usual_days_in_stage"):
        build_manager_reports(conn, settings, run_date=RUN_DATE)


def test_language_per_recipient_from_recipients_yml(conn, settings, tmp_path):
    (tmp_path / "recipients.yml").write_text(
        "language_by_source: {zoho: en}\npeople:\n  wang.wei@example.com: {language: zh-CN}\n"
    )
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})
    mia, wang = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert mia.language == "en" and "Team total" in mia.html
    assert wang.language == "zh-CN" and "团队合计" in wang.html and "2026年11月" in wang.subject
    assert '<html lang="zh-CN">' in wang.html


def test_amount_formats_per_locale():
    assert Fmt("en", "USD").money(Decimal("1234.5")) == "$1,234.50"
    assert Fmt("zh-CN", "USD").money(Decimal("1234.5")) == "US$1,234.50"
    assert Fmt("zh-CN", "CNY").money(Decimal("-1234.555")) == "-¥1,234.56"
    assert Fmt("en", "CNY").money(Decimal("1000")) == "CN¥1,000.00"
    assert Fmt("zh-CN").month(date(2026, 11, 1)) == "2026年11月"
    assert Fmt("en").month(date(2026, 11, 1)) == "November 2026"


def test_weekly_edition_has_its_own_kind_and_period(conn, settings):
    (weekly, _) = build_manager_reports(conn, settings, run_date=date(2026, 11, 29), weekly=True)
    assert weekly.kind == "manager_weekly" and weekly.period_key == "2026-W48"
    assert weekly.subject.startswith("[weekly]")


# --- commission statements and finance summary --------------------------------------------------


def test_one_statement_per_rep_with_lines_tiers_adjustments_and_totals(conn, settings):
    add_commissions(conn)
    conn.execute("update marts.dim_sales_reps set source = 'fxiaoke' where team_name = '华东一组'")
    statements = build_commission_statements(conn, settings, month=date(2026, 11, 15))
    assert [(s.recipients, s.period_key) for s in statements] == [
        (["emma@example.com"], "2026-11:r2"),
        (["liam@example.com"], "2026-11:r1"),
        (["li.na@example.com"], "2026-11:r5"),
    ]
    emma = statements[0]
    assert emma.kind == "commission_statement" and "November 2026" in emma.subject
    assert "Acme upsell" in emma.html and "Acme renewal" not in emma.html  # only her own lines
    assert "$2,000.00" in emma.text and "-$150.00" in emma.text and "$1,850.00" in emma.text
    assert "clawback: Globex pilot cancelled" in emma.html
    assert "bookings #2" in emma.html and "50.0% – ∞" in emma.html
    li = statements[2]
    assert li.language == "zh-CN" and "US$600.00" in li.text and "应发合计" in li.html  # fxiaoke source


def test_statement_cc_manager_when_configured(conn, settings, tmp_path):
    add_commissions(conn)
    (tmp_path / "recipients.yml").write_text("statements: {cc_manager: true}\n")
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})
    (liam,) = build_commission_statements(conn, settings, month=date(2026, 11, 1), rep="liam@example.com")
    assert liam.recipients == ["liam@example.com", "mia@example.com"]


def test_finance_summary_totals_and_payroll_attachments(conn, settings):
    import csv
    import io

    import openpyxl

    add_commissions(conn)
    (report,) = build_finance_summary(conn, settings, month=date(2026, 11, 1), to=["fin@example.com"])
    assert report.kind == "finance_summary" and report.period_key == "2026-11"
    names = [a[0] for a in report.attachments]
    assert names == ["payroll_2026-11.csv", "payroll_2026-11.xlsx"]
    rows = list(csv.DictReader(io.StringIO(report.attachments[0][1].decode("utf-8-sig"))))
    by_rep = {r["rep_id"]: r for r in rows}
    assert by_rep["r2"]["commission_amount"] == "2000.00" and by_rep["r2"]["payable_amount"] == "1850.00"
    assert by_rep["r5"]["rep_name"] == "李娜"
    book = openpyxl.load_workbook(io.BytesIO(report.attachments[1][1]))
    assert book.sheetnames == ["payroll", "lines"] and book["lines"].max_row == 6  # + the totals row
    assert by_rep["TOTAL"]["payable_amount"] == "3450.00"  # 1000 + 2000 - 150 + 600
    assert cells(report.html, "NA East")[-1] == "$2,850.00"  # 1000 + 2000 - 150
    assert "$3,450.00" in report.html  # grand total payable


def test_statements_sent_once_per_rep_and_a_bounce_does_not_block_others(conn, settings, tmp_path):
    add_commissions(conn)
    conn.execute("update marts.dim_sales_reps set email = 'bounce@example.com' where rep_id = 'r1'")
    outbox = tmp_path / "outbox"

    def send_all(smtp_settings):
        results = []
        for s in build_commission_statements(conn, smtp_settings, month=date(2026, 11, 1)):
            results += send_report(
                conn, smtp_settings, kind=s.kind, period_key=s.period_key, recipients=s.recipients,
                subject=s.subject, html=s.html, text=s.text, retry_delay_seconds=0.01,
            )  # fmt: skip
        return results

    with LocalSmtpServer(outbox, handler=RejectingHandler(outbox)) as server:
        smtp_settings = settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port})
        first = send_all(smtp_settings)
        again = send_all(smtp_settings)
    assert {r.recipient: r.status for r in first} == {
        "bounce@example.com": "failed",
        "emma@example.com": "sent",
        "li.na@example.com": "sent",
    }
    assert {r.recipient: r.status for r in again} == {
        "bounce@example.com": "failed",  # still tried (never delivered), still reported
        "emma@example.com": "skipped_duplicate",
        "li.na@example.com": "skipped_duplicate",
    }
    messages = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in outbox.glob("*.eml")]
    assert sorted(m["To"] for m in messages) == ["emma@example.com", "li.na@example.com"]
    emma = next(m for m in messages if m["To"] == "emma@example.com")
    assert "Acme upsell" in emma.get_body(("plain",)).get_content()


def test_ledger_line_types_other_than_commission_show_as_adjustments(conn, settings):
    """fct_commissions with line_type (bonus, cap, clawback, ...): only commission lines are tiered."""
    add_commissions(conn)
    conn.execute("drop table marts.fct_commission_adjustments")
    conn.execute(
        "insert into marts.fct_commissions (commission_line_id, rep_id, period_month, component, "
        "tier_number, base_amount, commission_amount, currency, line_type, explanation) values "
        "('b1', 'r2', date '2026-11-01', 'q-bonus', 1, 0, 500.00, 'USD', 'bonus', '120% milestone')"
    )
    emma = build_commission_statements(conn, settings, month=date(2026, 11, 1), rep="r2")[0]
    assert "bonus: 120% milestone" in emma.html and "q-bonus" not in emma.html
    assert "$2,000.00" in emma.text and "$500.00" in emma.text and "$2,500.00" in emma.text
    (finance,) = build_finance_summary(conn, settings, month=date(2026, 11, 1), to=["fin@example.com"])
    assert "$2,500.00" in finance.html
    # in the finance summary the bonus is a bonus (2,000.00 + 500.00 = 2,500.00), not an adjustment
    emma_row = next(line for line in finance.text.splitlines() if line.startswith("Emma"))
    assert emma_row.split()[-3:] == ["$2,000.00", "$500.00", "$2,500.00"]


def test_footnote_lists_the_team_deals_held_back_by_the_data_gate(conn, settings):
    """A quarantined deal of Mia's team is named in her footnote, not in Wang's."""
    from datetime import UTC, datetime

    from flows.quality.quarantine import ensure_quarantine_table

    # the marts key reps as <source>:<crm id>, as quarantine_summary does
    conn.execute(
        "update marts.dim_sales_reps set rep_id = 'zoho:' || rep_id, manager_id = 'zoho:' || manager_id"
    )
    conn.execute("update marts.fct_rep_scorecard set rep_id = 'zoho:' || rep_id")
    ensure_quarantine_table(conn)
    conn.execute(
        "insert into ops.quarantine (run_id, source, object, raw_table, id, expectation, severity, reason, "
        "record, quarantined_at) values ('run-1', 'zoho', 'deals', 'zoho_deals', '42', "
        "'expect_column_values_to_be_between', 'warning', 'amount is negative', ?, ?)",
        ['{"id": "42", "Deal_Name": "Acme renewal", "Owner": {"id": "r1"}}', datetime.now(UTC)],
    )
    mia, wang = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert "Held back by data checks and not in these figures (1): Acme renewal" in mia.html
    assert "Acme renewal" in mia.text
    assert "Acme renewal" not in wang.html
