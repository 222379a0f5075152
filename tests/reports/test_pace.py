"""Attainment against pace (day-grain targets) and reps who left, in the manager report.

February 2027 starts on a Monday and has 28 days: 20 working days. On Wednesday the 10th, eight of
them have passed (1–5, 8–10), so 8/20 = 40% of a month's target is due.
"""

from __future__ import annotations

from datetime import date

from reports_support import RUN_DATE, add_day_targets, cells, row_html, set_scorecard

from flows.reports.formatting import BEHIND, FAR_BEHIND, NO_TARGET, ON_TRACK
from flows.reports.manager_report import build_manager_reports
from flows.reports.pace import calendar_share

FEB = date(2027, 2, 1)


def _february(conn, settings, run_date: date):
    # 100,000 a month = 5,000 on each of the 20 working days
    add_day_targets(conn, {"r1": "5000", "r2": "5000", "r3": "5000"}, FEB, date(2027, 2, 28))
    set_scorecard(
        conn,
        FEB,
        {
            "r1": ("45000", "100000", "0"),  # 45% of the month, 112.5% of the 40,000 due: ahead
            "r2": ("30000", "100000", "0"),  # 75% of pace: behind
            "r3": ("20000", "100000", "0"),  # 50% of pace: far behind
        },
    )
    mia, _ = build_manager_reports(conn, settings, run_date=run_date)
    return mia.html


def test_a_rep_ahead_of_pace_is_green_though_far_from_the_month_target(conn, settings):
    html = _february(conn, settings, date(2027, 2, 10))
    # won, target, attainment, target to date, pace
    assert cells(html, "Liam Rossi")[:5] == ["45,000", "100,000", "45.0%", "40,000", "112.5%"]
    assert f"color:{ON_TRACK}" in row_html(html, "Liam Rossi")
    assert cells(html, "Emma Novak")[3:5] == ["40,000", "75.0%"]
    assert f"color:{BEHIND}" in row_html(html, "Emma Novak")
    assert cells(html, "Noah New")[3:5] == ["40,000", "50.0%"]
    assert f"color:{FAR_BEHIND}" in row_html(html, "Noah New")
    # team: 95,000 won of 120,000 due = 79.2% of pace
    assert cells(html, "Team total")[:5] == ["95,000", "300,000", "31.7%", "120,000", "79.2%"]
    assert "spread over its working days, up to Feb 10, 2027" in html


def test_weekend_days_add_nothing_to_the_target_to_date(conn, settings):
    friday = cells(_february(conn, settings, date(2027, 2, 12)), "Liam Rossi")
    conn.execute("drop table marts.fct_sales_targets")
    conn.execute("delete from marts.fct_rep_scorecard where period_month = ?", [FEB])
    sunday = cells(_february(conn, settings, date(2027, 2, 14)), "Liam Rossi")
    assert friday[3] == sunday[3] == "50,000"  # 10 working days by Friday, none at the weekend


def test_without_day_targets_the_pace_is_calendar_days(conn, settings):
    set_scorecard(conn, FEB, {"r1": ("45000", "100000", "0")})
    (mia, _) = build_manager_reports(conn, settings, run_date=date(2027, 2, 14))
    assert calendar_share(date(2027, 2, 14)) * 28 == 14
    assert cells(mia.html, "Liam Rossi")[3:5] == ["50,000", "90.0%"]  # 14/28 of 100,000
    assert "days elapsed / days in the month" in mia.html


def test_reps_who_left_stay_in_attainment_but_not_in_pipeline_and_coverage(conn, settings):
    # Olga left (inactive) with numbers this month: 10,000 won of a prorated 20,000, 50,000 open
    set_scorecard(conn, date(2026, 11, 1), {"r4": ("10000", "20000", "50000")})
    # Emma leaves after the report date: still in the team on the 28th
    conn.execute(
        "update marts.dim_sales_reps set left_on = date '2026-12-15', is_active = false where rep_id = 'r2'"
    )
    (mia, _) = build_manager_reports(conn, settings, run_date=RUN_DATE)
    html = mia.html
    assert cells(html, "Olga Gone (left)")[:3] == ["10,000", "20,000", "50.0%"]
    assert cells(html, "Team total")[:3] == ["180,000", "220,000", "81.8%"]  # her won deals count
    pipeline = html[html.index("Pipeline and coverage") :]
    assert "Olga Gone" not in pipeline.split("Not in pipeline")[0]
    assert "Emma Novak" in pipeline
    # open 80,000 + 10,000; weighted 40,000 + 9,000; gap (200,000 - 170,000); coverage 90,000 / 30,000
    assert cells(pipeline, "Team total") == ["90,000", "49,000", "30,000", "3.0×"]
    assert "Not in pipeline and coverage, having left the team: Olga Gone." in html
    assert cells(html, "Team total")[-1] == "90,000"  # open pipeline of the attainment table too
    assert "Olga Gone" not in mia.text.split("Pipeline and coverage")[1].split("Not in pipeline")[0]


def test_a_rep_who_left_on_or_before_the_report_date_has_left(conn, settings):
    set_scorecard(conn, date(2026, 11, 1), {"r4": ("10000", "20000", "50000")})
    conn.execute(
        "update marts.dim_sales_reps set is_active = true, left_on = date '2026-11-28' where rep_id = 'r4'"
    )
    (mia, _) = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert "Olga Gone (left)" in mia.html
    (before, _) = build_manager_reports(conn, settings, run_date=date(2026, 11, 27))
    assert "Olga Gone (left)" not in before.html and cells(before.html, "Olga Gone")[:1] == ["10,000"]


def test_a_zero_target_is_grey_not_on_pace(conn, settings):
    # a leaver's target prorated to nothing: no pace, so no green
    set_scorecard(conn, date(2026, 11, 1), {"r4": ("0", "0", "5000")})
    (mia, _) = build_manager_reports(conn, settings, run_date=RUN_DATE)
    assert cells(mia.html, "Olga Gone (left)")[2:5] == ["–", "0", "–"]
    assert f"color:{NO_TARGET}" in row_html(mia.html, "Olga Gone (left)")
    assert ON_TRACK not in row_html(mia.html, "Olga Gone (left)")
