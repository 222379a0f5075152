"""Every report's HTML rendered by a real browser engine (headless Chromium) to a PNG that is not blank.

Mail clients render a subset of what browsers do, but a report that does not even render in
Chromium (broken markup, an image that does not decode, white text on white) is caught here. The
HTML is the file written under reports/ (the e-mail's HTML with its cid: images as data URIs).

Chromium is required: ``make test`` installs Debian's ``chromium`` when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from PIL import Image, ImageChops
from reports_support import RUN_DATE, add_commissions, build_marts

from flows.config.settings import Settings
from flows.quality.results import CheckResult, GateResult
from flows.reports import charts
from flows.reports.alerts import build_alert_report
from flows.reports.finance import build_finance_summary
from flows.reports.formatting import BEHIND, FAR_BEHIND, ON_TRACK
from flows.reports.html_files import write_report_html
from flows.reports.manager_report import build_manager_reports
from flows.reports.statements import build_commission_statements


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "headless Chromium is required for the render tests: run `make test` (it installs Debian's chromium)"
    )


def screenshot(html: Path, tmp_path: Path) -> Image.Image:
    png = html.with_suffix(".png")
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--window-size=800,1400",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert png.exists() and png.stat().st_size > 0, f"Chromium wrote no screenshot of {html.name}"
    return Image.open(png).convert("RGB")


def assert_not_blank(image: Image.Image, *, min_ink: float = 0.02) -> None:
    """More than ``min_ink`` of the pixels differ from the page background, in several colours."""
    small = image.resize((200, 350))
    pixels = list(small.getdata())
    background = max(set(pixels), key=pixels.count)
    ink = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, background, strict=True)) > 60)
    assert ink / len(pixels) > min_ink, (
        f"only {ink / len(pixels):.1%} of the page differs from the background"
    )
    assert len(set(pixels)) > 20, "a flat image, not a rendered report"


def has_colour(image: Image.Image, hex_colour: str, tolerance: int = 40) -> bool:
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return any(sum(abs(a - b) for a, b in zip(p, target, strict=True)) <= tolerance for p in image.getdata())


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_marts(c)
    add_commissions(c)
    yield c
    c.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_manager_report_renders_with_its_chart(conn, settings, tmp_path):
    for report in build_manager_reports(conn, settings, run_date=RUN_DATE):  # en and zh-CN
        image = screenshot(write_report_html(report, settings), tmp_path)
        assert_not_blank(image)
        assert any(has_colour(image, c) for c in (ON_TRACK, BEHIND, FAR_BEHIND)), (
            f"no coloured attainment bar or figure in {report.recipients}"
        )


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the boxes, on purpose
def test_zh_cn_chart_shows_chinese_names_as_glyphs(conn, settings, tmp_path, monkeypatch):
    """Wang's zh-CN report in Chromium, once with the chart of his rep 李娜 and once with the chart drawn
    for 赵敏 instead: a chart that draws glyphs changes the picture, one that draws boxes (the CJK font
    found but not used) does not, so the two pairs tell glyphs from boxes."""
    (tmp_path / "recipients.yml").write_text("people:\n  wang.wei@example.com: {language: zh-CN}\n")
    settings = settings.model_copy(update={"recipients_file": tmp_path / "recipients.yml"})

    def screenshots(tag: str) -> tuple[Image.Image, Image.Image]:
        (_, li) = build_manager_reports(conn, settings, run_date=RUN_DATE)
        conn.execute("update marts.dim_sales_reps set rep_name = '赵敏' where rep_id = 'r5'")
        (_, zhao) = build_manager_reports(conn, settings, run_date=RUN_DATE)
        conn.execute("update marts.dim_sales_reps set rep_name = '李娜' where rep_id = 'r5'")
        assert li.language == "zh-CN" and "李娜" in li.html
        same_page = replace(li, inline_images=zhao.inline_images)  # only the chart differs
        shots = (
            screenshot(write_report_html(page, settings, prefix=f"{tag}{i}_"), tmp_path)
            for i, page in enumerate((li, same_page))
        )
        return next(shots), next(shots)

    li, zhao = screenshots("glyphs")
    assert_not_blank(li)
    assert ImageChops.difference(li, zhao).getbbox() is not None, (
        "the chart shows the same marks for two names"
    )
    monkeypatch.setattr(charts, "font_families", lambda: ("DejaVu Sans",))  # no CJK fallback: boxes
    li_boxes, zhao_boxes = screenshots("boxes")
    assert ImageChops.difference(li_boxes, zhao_boxes).getbbox() is None  # boxes look alike
    assert ImageChops.difference(li, li_boxes).getbbox() is not None


def test_commission_statement_renders(conn, settings, tmp_path):
    report = build_commission_statements(conn, settings, month=date(2026, 11, 1))[0]
    assert_not_blank(screenshot(write_report_html(report, settings), tmp_path))


def test_finance_summary_renders(conn, settings, tmp_path):
    (report,) = build_finance_summary(conn, settings, month=date(2026, 11, 1), to=["fin@example.com"])
    assert_not_blank(screenshot(write_report_html(report, settings), tmp_path))


def test_data_quality_alert_renders(settings, tmp_path):
    gate = GateResult(
        run_id="run-9",
        results=[
            CheckResult(
                "raw_zoho_deals",
                "expect_column_values_to_be_between",
                "amount",
                "critical",
                False,
                None,
                1,
                [{"id": "1", "amount": -5}],
            )
        ],
    )
    report = build_alert_report(None, settings, gate=gate, run_date=RUN_DATE, recipients=["de@example.com"])
    assert_not_blank(screenshot(write_report_html(report, settings), tmp_path), min_ink=0.005)
