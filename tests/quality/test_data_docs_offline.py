"""Data Docs readable without internet: the offline index and GX's pages with no CDN tag left.

A real GX site is built (two suites, one failing) through the gate's own ``validate`` and
``build_data_docs``, then read as a browser would: the index's plain table, its links, and
headless Chromium with every network request refused.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from flows.config.settings import Settings
from flows.quality.docs_offline import DataDocsFormatError, make_offline
from flows.quality.gx_runtime import build_data_docs, runtime_context, validate

CHECKED_AT = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
NOT_NULL = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}


class Links(HTMLParser):
    """Every table row's cells and links, and every URL a page would fetch (src / link href)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.fetched: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if a.get("src") or (tag == "link" and a.get("href")):
            self.fetched.append(a.get("src") or a.get("href") or "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


def parsed(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text("utf-8"))
    return links


@pytest.fixture
def site(tmp_path: Path) -> Path:
    settings = Settings(home=tmp_path / "home")
    context = runtime_context(settings)
    frames = {
        "offline_good": pd.DataFrame({"id": ["a", "b"]}),
        "offline_bad": pd.DataFrame({"id": ["a", None]}),
    }
    for name, frame in frames.items():
        validate(context, name, {}, [NOT_NULL], [frame], ["id"], {}, "run-offline", CHECKED_AT, name)
    index = build_data_docs(context, settings)
    assert index == settings.home_dir / "gx" / "data_docs" / "index.html"
    return index.parent


def test_offline_index_lists_every_result_with_a_working_link(site: Path) -> None:
    page = parsed(site / "index.html")
    rows = [r for r in page.rows if r]
    # status, run time, run name, suite, expectations, failed: one row per suite validated
    assert sorted((r[0], r[2], r[3], r[4], r[5]) for r in rows) == [
        ("Failed", "run-offline", "offline_bad", "1", "1"),
        ("Success", "run-offline", "offline_good", "1", "0"),
    ]
    result_links = [link for link in page.links if link.startswith("validations/")]
    assert len(result_links) == 2
    for link in result_links:
        target = site / link
        assert target.is_file(), link
        assert "values must never be null" in target.read_text("utf-8")  # GX's rendering of NOT_NULL
    bad = next(link for link in result_links if "/offline_bad/" in link)
    assert "1 unexpected values found" in (site / bad).read_text("utf-8")
    assert {link for link in page.links if link.startswith("expectations/")} == {
        "expectations/offline_bad.html",
        "expectations/offline_good.html",
    }


def test_no_page_fetches_anything_from_another_host(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) == 5  # index, 2 validation pages, 2 suite pages
    for page in pages:
        remote = [u for u in parsed(page).fetched if re.match(r"(https?:)?//", u)]
        assert not remote, f"{page.relative_to(site)} still loads {remote}"
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", page.read_text("utf-8")), page.name
        assert 'id="salesops-offline-style"' in page.read_text("utf-8")


def test_index_agrees_with_the_array_gx_embedded(site: Path) -> None:
    """GX's own index (rebuilt here) lists the same result pages as ours: a GX upgrade that adds or
    moves results fails here instead of leaving the offline index short."""
    ours = {link for link in parsed(site / "index.html").links if link.startswith("validations/")}
    settings = Settings(home=site.parent.parent)
    runtime_context(settings).build_data_docs(site_names=["local_site"])  # GX's index, not rewritten
    gx_index = (site / "index.html").read_text("utf-8")
    match = re.search(r"body-table'\)\.bootstrapTable\(.*?data: (\[.*?\]),\n", gx_index, re.S)
    assert match, "GX's index no longer embeds its validation results as `data: [...]`"
    theirs = {row["_table_row_link_path"] for row in ast.literal_eval(match.group(1))}
    assert theirs == ours


def test_a_result_without_a_page_is_an_error_not_a_short_index(site: Path) -> None:
    page = next((site / "validations").rglob("*.html"))
    page.unlink()
    with pytest.raises(DataDocsFormatError, match="results without a page"):
        make_offline(site, site.parent / "validations")


def test_chromium_without_network_shows_the_results(site: Path, tmp_path: Path) -> None:
    found = (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))
    browser = next((path for path in found if path), None)
    if browser is None:
        pytest.fail("headless Chromium is required: run `make test` (it installs Debian's chromium)")
    validation_page = next((site / "validations" / "offline_bad").rglob("*.html"))
    for page, expected in (
        (site / "index.html", "offline_bad"),
        (validation_page, "values must never be null"),
        (validation_page, "1 unexpected values found"),
    ):
        dom = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                # every host resolves to nothing and no proxy is reachable: the network is gone
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--proxy-server=http://127.0.0.1:9",
                f"--user-data-dir={tmp_path / 'chromium-profile'}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        shown = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)  # code is not text
        text = re.sub(r"<[^>]+>", " ", shown)
        assert expected in text, f"{page.name} rendered without {expected!r}"
