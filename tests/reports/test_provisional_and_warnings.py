"""Statements and the finance summary say "provisional" until the month is closed, show the
recoverable draw balance, and the finance summary lists the commission warnings of the month
(issue 12 items 6 and 7)."""

from __future__ import annotations

from datetime import date

from reports_support import add_commissions

from flows.reports.finance import build_finance_summary
from flows.reports.statements import build_commission_statements

NOV = date(2026, 11, 1)


def _close(conn, month: date) -> None:
    conn.execute("create schema if not exists finance")
    conn.execute(
        "create table finance.commission_periods (period_month date primary key, status varchar, "
        "closed_at timestamptz, closed_by varchar, line_count integer, total_amount decimal(18,2))"
    )
    conn.execute("insert into finance.commission_periods values (?, 'closed', now(), 'cfo', 0, 0)", [month])
    # a closed month is read from its snapshot: here the same lines as the mart
    conn.execute("create table finance.closed_statement_lines as select * from marts.fct_commissions")


def test_an_open_month_is_provisional_in_the_summary_and_the_statements(conn, settings):
    add_commissions(conn)
    conn.execute("update marts.dim_sales_reps set source = 'fxiaoke' where team_name = '华东一组'")
    (summary,) = build_finance_summary(conn, settings, month=NOV, to=["fin@example.com"])
    assert summary.subject.endswith("(provisional)")
    assert "Provisional: November 2026 is not closed yet" in summary.html
    assert "Provisional: November 2026 is not closed yet" in summary.text
    statements = build_commission_statements(conn, settings, month=NOV)
    english = [s for s in statements if s.language == "en"]
    assert english and all(s.subject.endswith("(provisional)") for s in english)
    assert all("is not closed yet" in s.text for s in english)
    li = next(s for s in statements if s.language == "zh-CN")
    assert li.subject.endswith("（暂定）") and "尚未结账" in li.html


def test_a_closed_month_is_not_provisional(conn, settings):
    add_commissions(conn)
    _close(conn, NOV)
    (summary,) = build_finance_summary(conn, settings, month=NOV, to=["fin@example.com"])
    assert "provisional" not in summary.subject.lower() and "not closed yet" not in summary.html
    assert all("not closed yet" not in s.text for s in build_commission_statements(conn, settings, month=NOV))


def test_the_finance_summary_lists_the_months_warnings(conn, settings):
    add_commissions(conn)
    conn.execute(
        "create table marts.fct_commission_warnings as select * from (values "
        "('negative_payable', date '2026-11-01', 'r2', 'r2 2026-11', 'r2 totals -10.00 USD for 2026-11'), "
        "('rate_above_one', null, null, 'P v1 c rate', 'P v1 component c: rate 10 pays 1,000 %'), "
        "('unmatched_credit', date '2026-10-01', 'r1', 'X', 'credit X of r1 is not paid')) "
        "t(warning_code, period_month, rep_id, subject, message)"
    )
    (summary,) = build_finance_summary(conn, settings, month=NOV, to=["fin@example.com"])
    assert "Warnings: check before paying (2)" in summary.html  # October's warning is not November's
    assert "[negative_payable] r2 totals -10.00 USD for 2026-11" in summary.text
    assert "rate 10 pays 1,000 %" in summary.html and "credit X of r1" not in summary.html


def test_a_statement_shows_the_recoverable_draw_balance(conn, settings):
    # r1 got a 500.00 recoverable top-up in November: the balance after November is 500.00
    add_commissions(conn)
    conn.execute(
        "insert into marts.fct_commissions (commission_line_id, line_type, rep_id, period_month, "
        "commission_amount, currency, component_type) values ('draw:r1:2026-11:AE', 'draw', 'r1', "
        "date '2026-11-01', 500.00, 'USD', 'recoverable_draw')"
    )
    (liam,) = build_commission_statements(conn, settings, month=NOV, rep="liam@example.com")
    assert "Recoverable draw balance after November 2026: $500.00" in liam.text
