"""Great Expectations Data Docs made readable without internet (post-processing of the built site).

GX 1.24's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs, and its
index page is an empty ``<table>`` filled by ``$(...).bootstrapTable({data: [...]})``: on a
locked-down host it renders blank. After GX builds the site this module (1) writes our own
``index.html``, a plain HTML table of every validation result linking to GX's per-result page, and
(2) strips every CDN ``<link>``/``<script>`` and remote image from every page and inlines a small
stylesheet. Why removing rather than keeping the CDN tags, and why the index is built from the
validation result store rather than GX's embedded array: docs/quality.md ("Data Docs offline").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment

#: A stylesheet link or an external script loaded from another host (GX's CDN tags).
CDN_TAG = re.compile(
    r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>|<script\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>",
    re.IGNORECASE,
)
#: GX's logo, fetched from S3 on every page.
REMOTE_IMAGE = re.compile(r"<img\b[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
#: A CSS background fetched from another host (GX's dark-mode logo in its inline stylesheet).
REMOTE_CSS_URL = re.compile(r"url\(\s*['\"]?https?://[^)]*\)", re.IGNORECASE)
STYLE_ID = "salesops-offline-style"

#: Enough styling for GX's server-rendered tables: borders, success/failure colours, and the Font
#: Awesome status icons GX uses drawn as plain characters.
OFFLINE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       margin: 1rem 2rem; color: #1f2937; }
table { border-collapse: collapse; margin: .5rem 0 1rem 0; }
th, td { border: 1px solid #d1d5db; padding: .25rem .5rem; vertical-align: top; text-align: left; }
th { background: #f3f4f6; }
.alert { border: 1px solid #d1d5db; background: #f9fafb; padding: .5rem; margin: .5rem 0; }
.text-success, .ok { color: #047857; }
.text-danger, .failed { color: #b91c1c; }
.text-warning { color: #b45309; }
tr.failed td { background: #fef2f2; }
.fas::before { font-style: normal; font-weight: bold; }
.fa-check-circle::before, .fa-check::before { content: "\\2713 "; }
.fa-times::before, .fa-times-circle::before { content: "\\2717 "; }
.fa-exclamation-triangle::before { content: "! "; }
"""

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Data Docs | salesops</title>
<style id="{{ style_id }}">{{ css | safe }}</style></head>
<body>
<h1>Data Docs</h1>
<p>Great Expectations validation results of the salesops quality gate, newest run first.
This page needs no internet: every link opens GX's page of that result or suite.</p>
<h2>Validation results ({{ rows | length }})</h2>
<table id="validation-results">
<thead><tr><th>Status</th><th>Run time</th><th>Run name</th><th>Expectation suite</th>
<th>Expectations</th><th>Failed</th></tr></thead>
<tbody>
{%- for row in rows %}
<tr class="{{ 'ok' if row.success else 'failed' }}">
<td>{{ 'Success' if row.success else 'Failed' }}</td>
<td>{{ row.run_time }}</td><td>{{ row.run_name }}</td><td><a href="{{ row.link }}">{{ row.suite }}</a></td>
<td>{{ row.evaluated }}</td><td>{{ row.unsuccessful }}</td>
</tr>
{%- endfor %}
</tbody></table>
<h2>Expectation suites ({{ suites | length }})</h2>
<ul id="expectation-suites">
{%- for name, link in suites %}
<li><a href="{{ link }}">{{ name }}</a></li>
{%- endfor %}
</ul>
</body></html>
"""


class DataDocsFormatError(RuntimeError):
    """The site or the result store is not laid out as this module expects (a GX upgrade)."""


@dataclass(frozen=True)
class ValidationRow:
    suite: str
    run_name: str
    run_time: str
    success: bool
    evaluated: int
    unsuccessful: int
    link: str  # relative to the site's root


def make_offline(site: Path, results_dir: Path) -> int:
    """Rewrite the built site at ``site`` for offline reading; the number of results indexed.

    ``results_dir`` is the validation result store (``TupleFilesystemStoreBackend``) the site was
    built from. Raises :class:`DataDocsFormatError` rather than writing an incomplete index.
    """
    rows = validation_rows(site, results_dir)
    for page in site.rglob("*.html"):
        page.write_text(offline_page(page.read_text("utf-8"), page), "utf-8")
    suite_pages = sorted((site / "expectations").glob("*.html"))
    suites = [(p.stem, p.relative_to(site).as_posix()) for p in suite_pages]
    index = Environment(autoescape=True).from_string(INDEX_TEMPLATE)
    html = index.render(rows=rows, suites=suites, css=OFFLINE_CSS, style_id=STYLE_ID)
    (site / "index.html").write_text(html, "utf-8")
    return len(rows)


def validation_rows(site: Path, results_dir: Path) -> list[ValidationRow]:
    """One row per stored validation result, each paired with the page GX rendered for it.

    The store and the site use the same key path (suite/run name/run time/batch), so a result
    without a page, or a page without a result, means the layout changed: that is an error.
    """
    pages_dir = site / "validations"
    pages = {p.relative_to(pages_dir).with_suffix("") for p in pages_dir.rglob("*.html")}
    stored = {p.relative_to(results_dir).with_suffix("") for p in results_dir.rglob("*.json")}
    if pages != stored:
        raise DataDocsFormatError(
            f"Data Docs pages under {pages_dir} and validation results under {results_dir} "
            f"do not match: results without a page {sorted(map(str, stored - pages))[:5]}, "
            f"pages without a result {sorted(map(str, pages - stored))[:5]}"
        )
    rows = [_row(results_dir / f"{key}.json", f"validations/{key.as_posix()}.html") for key in stored]
    return sorted(rows, key=lambda r: (r.run_time, r.suite), reverse=True)


def _row(path: Path, link: str) -> ValidationRow:
    data = json.loads(path.read_text("utf-8"))
    try:
        stats = data["statistics"]
        return ValidationRow(
            suite=str(data["suite_name"]),
            run_name=str(data["meta"]["run_id"]["run_name"]),
            run_time=str(data["meta"]["run_id"]["run_time"]),
            success=bool(data["success"]),
            evaluated=int(stats["evaluated_expectations"]),
            unsuccessful=int(stats["unsuccessful_expectations"]),
            link=link,
        )
    except (KeyError, TypeError) as exc:
        raise DataDocsFormatError(f"{path}: validation result without field {exc}") from exc


def offline_page(html: str, path: Path) -> str:
    """The page without CDN tags or remote images and backgrounds, with the offline stylesheet (once)."""
    html = REMOTE_CSS_URL.sub("none", REMOTE_IMAGE.sub("", CDN_TAG.sub("", html)))
    if STYLE_ID in html:
        return html
    if html.count("</head>") != 1:
        raise DataDocsFormatError(f"{path}: expected one </head>, found {html.count('</head>')}")
    return html.replace("</head>", f'<style id="{STYLE_ID}">{OFFLINE_CSS}</style>\n</head>')
