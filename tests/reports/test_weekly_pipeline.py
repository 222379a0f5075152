"""The weekly report's pipeline sections: movement per rep and team, and next week's expected closes.

The figures come from hand-built pipeline-history marts (``reports_support.MOVEMENT_W48`` and
``SNAPSHOTS_NOV29``, each row's identity opening + new - won - lost - removed + edits = closing checked
by hand); the team total is the sum of the rows of reps still in the team, worked out below.
"""

from __future__ import annotations

from datetime import date

from reports_support import add_deals, add_pipeline_history, cells, text_cells

from flows.reports.manager_report import build_manager_reports

MONDAY = date(2026, 11, 30)  # the send of week 48 (Nov 23 – 29)


def _movement(html: str) -> str:
    start = html.index("Pipeline movement in week 48")
    return html[start : html.index("</table>", start)]


def test_movement_per_rep_and_team_total(conn, settings):
    add_deals(conn)
    add_pipeline_history(conn)
    mia, _ = build_manager_reports(conn, settings, run_date=MONDAY, weekly=True)
    assert mia.kind == "manager_weekly" and mia.period_key == "2026-W48"
    movement = _movement(mia.html)
    # opening, new, advanced, moved back, slipped, won, lost, removed: amount (deals); amount edits; closing
    assert text_cells(movement, "Liam Rossi") == [
        "90,000 (3)", "20,000 (1)", "30,000 (1)", "0 (0)", "25,000 (1)", "25,000 (1)", "0 (0)", "0 (0)",
        "+5,000", "90,000 (3)",
    ]  # fmt: skip
    assert text_cells(movement, "Emma Novak") == [
        "17,000 (2)", "0 (0)", "0 (0)", "10,000 (1)", "0 (0)", "0 (0)", "7,000 (1)", "0 (0)", "0",
        "10,000 (1)",
    ]  # fmt: skip
    # Olga left (no numbers this month): her leftover 5,000 is not the team's. Team = Liam + Emma:
    # opening 90,000 + 17,000 = 107,000 (5); won 25,000; lost 7,000; closing 90,000 + 10,000 = 100,000 (4)
    # = 107,000 + 20,000 - 25,000 - 7,000 - 0 + 5,000.
    assert text_cells(movement, "Team total") == [
        "107,000 (5)", "20,000 (1)", "30,000 (1)", "10,000 (1)", "25,000 (1)", "25,000 (1)", "7,000 (1)",
        "0 (0)", "+5,000", "100,000 (4)",
    ]  # fmt: skip
    assert "Olga" not in movement and "李娜" not in movement
    assert "from the snapshot of Nov 22, 2026 to that of Nov 29, 2026" in mia.html
    assert "Pipeline movement in week 48" in mia.text and "107,000 (5)" in mia.text


def test_next_week_lists_the_deals_due_in_the_following_iso_week(conn, settings):
    add_deals(conn)
    add_pipeline_history(conn)
    mia, _ = build_manager_reports(conn, settings, run_date=MONDAY, weekly=True)
    start = mia.html.index("Expected to close next week (Nov 30 – Dec 6)")
    section = mia.html[start : mia.html.index("</table>", start)]
    # Liam's 40,000 due Dec 2; his Dec 15 deal, Emma's Nov 29 deal and the leaver's deal are not listed
    assert cells(section, "Acme expansion") == ["Liam Rossi", "Proposal", "40,000", "Dec 2, 2026"]
    for other in ("Later deal", "Emma&#39;s deal", "Olga"):
        assert other not in section
    # the count and amount are the mart's next_week_close_* of Liam (1, 40,000) and Emma (0, 0)
    assert "1 open deal(s), 40,000 in total" in section


def test_weekly_report_in_chinese(conn, settings, tmp_path):
    (tmp_path / "recipients.yml").write_text("people:\n  wang.wei@example.com: {language: zh-CN}\n")
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})
    add_deals(conn)
    add_pipeline_history(conn)
    _, wang = build_manager_reports(conn, settings, run_date=MONDAY, weekly=True)
    start = wang.html.index("第 48 周商机变动")
    movement = wang.html[start : wang.html.index("</table>", start)]
    headers = ("期初", "新增", "推进", "回退", "延期", "赢单", "输单", "移出", "金额调整", "期末")
    assert all(word in movement for word in headers)
    # 李娜: opening 8,000 (1), new 2,000 (1), advanced 2,000 (1), removed 8,000 (1), closing 2,000 (1)
    assert text_cells(movement, "李娜") == [
        "8,000 (1)", "2,000 (1)", "2,000 (1)", "0 (0)", "0 (0)", "0 (0)", "0 (0)", "8,000 (1)", "0",
        "2,000 (1)",
    ]  # fmt: skip
    assert "预计下周成交（11月30日 – 12月6日）" in wang.html and "华东项目" in wang.html


def test_without_the_history_marts_there_is_no_movement_and_no_daily_sections(conn, settings):
    add_deals(conn)
    mia, _ = build_manager_reports(conn, settings, run_date=MONDAY, weekly=True)
    assert "Pipeline movement" not in mia.html and "Expected to close next week" not in mia.html
    # its own report: the week's closes and the month to date, not the daily report's chart
    assert "Week 48 (Nov 23 – Nov 29)" in mia.html and "cid:" not in mia.html and not mia.inline_images


def test_a_week_before_the_history_starts_says_so(conn, settings):
    add_deals(conn)
    add_pipeline_history(conn)
    mia, _ = build_manager_reports(conn, settings, run_date=date(2026, 11, 23), weekly=True)  # week 47
    assert "No pipeline history for week 47 yet" in mia.html
    assert "Expected to close next week" not in mia.html


def test_a_team_without_pipeline_in_a_recorded_week_is_not_told_history_is_missing(conn, settings):
    add_deals(conn)
    add_pipeline_history(conn)
    conn.execute("delete from marts.fct_pipeline_movement where rep_id in ('r1', 'r2')")
    mia, _ = build_manager_reports(conn, settings, run_date=MONDAY, weekly=True)
    assert "No open pipeline of the team&#39;s reps in week 48." in mia.html
    assert "No pipeline history" not in mia.html
