"""The weekly edition: one ISO week for the Monday send and `report preview --weekly`, and its own figures."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from reports_support import add_day_targets, add_deals, build_marts, cells
from typer.testing import CliRunner

from flows.cli import report as report_cli
from flows.reports.manager_report import build_manager_reports
from flows.reports.periods import report_week
from flows.warehouse.publish import publish_marts


@pytest.mark.parametrize(
    ("run_date", "label", "start", "end"),
    [
        (date(2026, 11, 30), "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),  # the Monday send
        (date(2026, 11, 29), "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),  # Sunday: its own week
        (date(2026, 12, 2), "2026-W48", date(2026, 11, 23), date(2026, 11, 29)),  # mid-week: the last one
        (date(2026, 11, 28), "2026-W47", date(2026, 11, 16), date(2026, 11, 22)),  # Saturday: not ended
        (date(2027, 1, 4), "2026-W53", date(2026, 12, 28), date(2027, 1, 3)),  # ISO year 2026 has 53
    ],
)
def test_report_week_is_the_last_iso_week_ended(run_date, label, start, end):
    week = report_week(run_date)
    assert (week.label, week.start, week.end) == (label, start, end)


def test_weekly_edition_reports_the_week_closed_against_its_target(conn, settings):
    add_deals(conn)
    conn.execute(
        "insert into marts.fct_deals values "
        "('z7', 'Week deal', 'r1', 'zoho:a1', 'Won', 25000, date '2026-11-25', timestamptz '2026-11-25', "
        "true, false, false), "
        "('z8', 'Lost this week', 'r2', 'zoho:a2', 'Lost', 7000, date '2026-11-24', "
        "timestamptz '2026-11-24', "
        "false, true, false), "
        "('z9', 'Next week', 'r1', 'zoho:a1', 'Won', 9999, date '2026-11-30', timestamptz '2026-11-30', "
        "true, false, false)"
    )
    add_day_targets(conn, {"r1": "1000", "r2": "1000"}, date(2026, 11, 1), date(2026, 11, 30))
    mia, _ = build_manager_reports(conn, settings, run_date=date(2026, 11, 30), weekly=True)
    assert mia.kind == "manager_weekly" and mia.period_key == "2026-W48"
    assert mia.subject == (
        "[weekly] NA East: week 48 (Nov 23 – Nov 29), sales attainment November 2026 to date"
    )
    week = mia.html[mia.html.index("Week 48 (Nov 23 – Nov 29)") :]
    # won, won / lost, the week's target (5 working days × 1,000), attainment
    assert cells(week, "Liam Rossi") == ["25,000", "1 / 0", "5,000", "500.0%"]
    assert cells(week, "Emma Novak") == ["0", "0 / 1", "5,000", "0.0%"]
    assert cells(week, "Noah New") == ["0", "0 / 0", "–", "–"]
    assert cells(week, "Team total") == ["25,000", "1 / 1", "10,000", "250.0%"]
    # month to date as of the week's Sunday: 20 working days of November by the 29th
    month = mia.html[mia.html.index("November 2026 to date (as of Nov 29, 2026)") :]
    assert cells(month, "Liam Rossi")[3] == "20,000"
    assert "Week 48 (Nov 23 – Nov 29)" in mia.text

    daily, _ = build_manager_reports(conn, settings, run_date=date(2026, 11, 30))
    assert "Week 48" not in daily.html and cells(daily.html, "Liam Rossi")[3] == "21,000"


def test_weekly_edition_in_chinese(conn, settings, tmp_path):
    (tmp_path / "recipients.yml").write_text("people:\n  wang.wei@example.com: {language: zh-CN}\n")
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})
    add_deals(conn)
    _, wang = build_manager_reports(conn, settings, run_date=date(2026, 11, 30), weekly=True)
    assert wang.subject == "[weekly] 华东一组：第 48 周（11月23日 – 11月29日）周报，2026年11月累计销售达成"
    assert "第 48 周（11月23日 – 11月29日）" in wang.html and "本周目标" in wang.html


def test_preview_weekly_numbers_the_week_as_the_monday_send(tmp_path, settings, monkeypatch):
    settings.ensure_dirs()
    with duckdb.connect(str(settings.warehouse_path)) as c:
        build_marts(c)
    publish_marts(settings, run_id="run-1")
    monkeypatch.setenv("SALESOPS_HOME", str(settings.home_dir))
    result = CliRunner().invoke(
        report_cli.app,
        ["preview", "--kind", "manager", "--weekly", "--run-date", "2026-11-30"],
        terminal_width=300,
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in settings.reports_dir.iterdir())
    assert "preview_manager_weekly_2026-W48_mia@example.com.html" in written  # as tests/e2e's Monday send
