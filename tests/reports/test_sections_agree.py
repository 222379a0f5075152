"""The funnel and the stalled deals measure a stage's time the same way; at-risk reasons are translated."""

from __future__ import annotations

from reports_support import RUN_DATE, add_deals, cells

from flows.reports.formatting import Fmt
from flows.reports.manager_report import build_manager_reports
from flows.reports.risk_reasons import translate_reasons


def _funnel_and_stalled(conn) -> None:
    add_deals(conn)
    # this month's cohort: only the quick visits have left the stage yet (median 1 day)
    conn.execute(
        "create table marts.fct_funnel as select * from (values "
        "('month', 'team', date '2026-11-01', 'zoho', 'NA East', 1, 'Qualify', 10, 0.5, 1.00, false), "
        "('month', 'team', date '2026-11-01', 'zoho', 'NA East', 2, 'Proposal', 4, 0.25, 0.50, true)) "
        "t(period_grain, funnel_level, period_start, source, team_name, stage_order, stage, deals_entered, "
        "conversion_rate, median_days_in_stage, is_bottleneck)"
    )
    # every ended visit: Qualify 2, 4, 30 days (median 4); Proposal 6, 10, 20, 40 (median 15); an open one;
    # another CRM's Proposal (median 99) must not be taken
    visits = [("zoho", "Qualify", d) for d in (2, 4, 30)] + [("zoho", "Proposal", d) for d in (6, 10, 20, 40)]
    visits += [("zoho", "Proposal", None), ("fxiaoke", "Proposal", 99)]
    conn.execute(
        "create table marts.fct_deal_stage_transitions (source varchar, stage varchar, days_in_stage int)"
    )
    conn.executemany("insert into marts.fct_deal_stage_transitions values (?, ?, ?)", visits)
    conn.execute(
        "create table marts.fct_stalled_deals as select * from (values "
        "('Old stuck deal', 'r1', 'Proposal', 80000.00, date '2026-12-20', 88, 15.00)) "
        "t(deal_name, rep_id, stage, amount_reporting, close_date, days_in_stage, usual_days_in_stage)"
    )


def test_funnel_shows_the_usual_days_the_stalled_deals_are_measured_against(conn, settings):
    _funnel_and_stalled(conn)
    mia, _ = build_manager_reports(conn, settings, run_date=RUN_DATE)
    html = mia.html
    # stage, entered, conversion, usual days (not the cohort's 1.0 / 0.5)
    assert cells(html, "Qualify") == ["10", "50.0%", "4.0"]
    assert cells(html, "Proposal") == ["4", "25.0%", "15.0"]
    assert cells(html, "Old stuck deal")[-1] == "88 / 15.0"  # the same 15.0 as the funnel
    assert "Usual days in stage" in html and "Median days" not in html
    assert "the same figure stalled deals are measured against" in html


def test_funnel_keeps_its_median_without_the_transitions_mart(conn, settings):
    _funnel_and_stalled(conn)
    conn.execute("drop table marts.fct_deal_stage_transitions")
    html = build_manager_reports(conn, settings, run_date=RUN_DATE)[0].html
    assert cells(html, "Proposal") == ["4", "25.0%", "0.5"] and "Median days" in html


def test_at_risk_reasons_are_in_the_readers_language(conn, settings, tmp_path):
    (tmp_path / "recipients.yml").write_text("people:\n  wang.wei@example.com: {language: zh-CN}\n")
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})
    conn.execute(
        "create table marts.fct_customer_risk as select * from (values "
        "('fx:b1', '华东客户', 'r5', true, 'overdue beyond 60 days; credit limit exceeded'), "
        "('zoho:a1', 'Acme Corp', 'r1', true, 'payment delay worsening')) "
        "t(account_id, account_name, owner_rep_id, is_high_risk, risk_reasons)"
    )
    mia, wang = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert cells(wang.html, "华东客户") == ["逾期超过 60 天；超出信用额度"]
    assert cells(mia.html, "Acme Corp") == ["payment delay worsening"]
    assert "华东客户: 逾期超过 60 天；超出信用额度" in wang.text


def test_unknown_reasons_pass_through():
    zh = Fmt("zh-CN")
    assert (
        translate_reasons("Overdue beyond 90 days; on stop (legal)", zh) == "逾期超过 90 天；on stop (legal)"
    )
    assert translate_reasons(["credit limit exceeded"], zh) == "超出信用额度"
    assert translate_reasons(None, zh) == ""
