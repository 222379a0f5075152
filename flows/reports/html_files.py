"""Saving a report as an HTML file that a browser shows as the e-mail would (charts included)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from flows.config.settings import Settings
from flows.reports.model import Report


def report_html_for_browser(report: Report) -> str:
    """The HTML with ``cid:`` images replaced by data URIs, so a browser shows the charts."""
    html = report.html
    for cid, data in report.inline_images.items():
        uri = f"data:image/png;base64,{base64.b64encode(data).decode()}"
        html = html.replace(f"cid:{cid}", uri)
    return html


def write_report_html(report: Report, settings: Settings, *, prefix: str = "") -> Path:
    """Save the HTML under ``reports_dir`` as ``<kind>_<period>_<recipient>.html``.

    Inline images are embedded as data URIs so the saved file shows the chart in a browser.
    """
    who = report.recipients[0] if len(report.recipients) == 1 else f"{len(report.recipients)}-recipients"
    name = "_".join(re.sub(r"[^A-Za-z0-9@.+_-]", "-", part) for part in (report.kind, report.period_key, who))
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    path = settings.reports_dir / f"{prefix}{name}.html"
    path.write_text(report_html_for_browser(report), encoding="utf-8")
    return path
