"""The HTML templates share one page: each report's template extends ``base.html`` and fills its blocks."""

from __future__ import annotations

import pytest

from flows.reports.common import TEMPLATES_DIR

REPORT_TEMPLATES = sorted(p.name for p in TEMPLATES_DIR.glob("*.html") if p.name != "base.html")


def test_every_report_has_an_html_and_a_text_template():
    assert REPORT_TEMPLATES == [
        "alert.html", "finance_summary.html", "manager_report.html", "run_failed.html", "statement.html",
        "weekly_report.html",
    ]  # fmt: skip
    for name in REPORT_TEMPLATES:
        assert (TEMPLATES_DIR / name).with_suffix(".txt").exists()


@pytest.mark.parametrize("name", REPORT_TEMPLATES)
def test_html_template_extends_the_base_page(name):
    text = (TEMPLATES_DIR / name).read_text("utf-8")
    assert text.startswith('{% extends "base.html" %}'), f"{name} does not extend base.html"
    assert "<!DOCTYPE" not in text and "<head" not in text  # the page skeleton lives in base.html only
