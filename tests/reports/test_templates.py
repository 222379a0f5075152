"""The HTML templates share one page: each report's template extends ``base.html`` and fills its blocks."""

from __future__ import annotations

import pytest

from flows.reports.common import TEMPLATES_DIR

# base.html is the page, _*.html partials hold macros the reports import; neither is a report
REPORT_TEMPLATES = sorted(
    p.name for p in TEMPLATES_DIR.glob("*.html") if p.name != "base.html" and not p.name.startswith("_")
)


def test_every_report_has_an_html_and_a_text_template():
    assert REPORT_TEMPLATES == [
        "alert.html", "finance_summary.html", "manager_report.html", "run_failed.html", "statement.html",
        "weekly_report.html",
    ]  # fmt: skip
    for name in REPORT_TEMPLATES:
        assert (TEMPLATES_DIR / name).with_suffix(".txt").exists()


@pytest.mark.parametrize("name", ["manager_report", "weekly_report"])
@pytest.mark.parametrize("suffix", [".html", ".txt"])
def test_manager_reports_take_the_month_to_date_and_footnote_from_the_shared_sections(name, suffix):
    """The daily and the weekly report show the same month-to-date table and footnote: one copy, in
    _sections.html / _sections.txt, so a change to one cannot miss the other."""
    text = (TEMPLATES_DIR / name).with_suffix(suffix).read_text("utf-8")
    assert f'from "_sections{suffix}" import' in text
    assert text.count("{{ month_to_date_") == 1 and text.count("{{ quality_footnote() }}") == 1
    assert 't("team_total")' not in text.split("pipeline_title")[0]  # the month table is not repeated


@pytest.mark.parametrize("name", REPORT_TEMPLATES)
def test_html_template_extends_the_base_page(name):
    text = (TEMPLATES_DIR / name).read_text("utf-8")
    assert text.startswith('{% extends "base.html" %}'), f"{name} does not extend base.html"
    assert "<!DOCTYPE" not in text and "<head" not in text  # the page skeleton lives in base.html only
