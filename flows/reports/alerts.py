"""The data engineers' alerts: the data-quality gate's failures, and a run that failed elsewhere.

In English only, to the pipeline's own mailbox unless recipients are given; ``period_key`` is the
run id, so a re-run of the same night alerts again only when forced.
"""

from __future__ import annotations

import json
from datetime import date
from email.utils import parseaddr
from typing import Any

import duckdb

from flows.config.settings import Settings
from flows.quality.results import GateResult
from flows.reports.common import render
from flows.reports.model import ALERT_KIND, RUN_FAILED_KIND, Report


def build_alert_report(
    conn: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    *,
    gate: GateResult,
    run_date: date | None = None,
    run_id: str | None = None,
    recipients: list[str] | None = None,
) -> Report:
    """The data engineer's alert: failed checks (critical first) with offending examples.

    ``period_key`` is the run id, so a re-run of the same night alerts again only when forced.
    Without ``recipients`` it goes to the pipeline's own address (``settings.mail_from``).
    ``conn`` is accepted for symmetry with the other builders.
    """

    def row(r: Any) -> dict:
        return {
            "suite": r.suite,
            "label": r.label,
            "column": r.column,
            "observed": _clip(
                r.observed_value
                if isinstance(r.observed_value, str)
                else json.dumps(r.observed_value, ensure_ascii=False, default=str)
            ),
            "unexpected_count": r.unexpected_count,
            "examples": _clip(json.dumps(r.unexpected_examples, ensure_ascii=False, default=str), 300),
        }

    run_id = run_id or gate.run_id
    status = "FAILED" if not gate.success else "warnings"
    day = f" {run_date.isoformat()}" if run_date else ""
    subject = f"[salesops] data quality gate {status}{day}: run {run_id}"
    context = {
        "subject": subject,
        "run_id": run_id,
        "success": gate.success,
        "total": len(gate.results),
        "critical": [row(r) for r in gate.critical_failures],
        "warnings": [row(r) for r in gate.warnings],
        "data_docs_path": str(gate.data_docs_path) if gate.data_docs_path else None,
        "summary_markdown": gate.summary_markdown(),
    }
    return Report(
        kind=ALERT_KIND,
        period_key=run_id,
        recipients=list(recipients) if recipients else [parseaddr(settings.mail_from)[1]],
        subject=subject,
        html=render("alert.html", context),
        text=render("alert.txt", context),
    )


def build_run_failed_alert(
    settings: Settings, *, flow: str, run_id: str, run_date: date | None, error: str, recipients: list[str]
) -> Report:
    """The data engineers' alert for a run that failed outside the data gate (ingest, dbt, publish…)."""
    day = f" {run_date.isoformat()}" if run_date else ""
    subject = f"[salesops] {flow} run FAILED{day}: run {run_id}"
    context = {
        "subject": subject,
        "flow": flow,
        "run_id": run_id,
        "run_date": run_date,
        "error": error,
        "published": str(settings.published_warehouse_path),
    }
    return Report(
        kind=RUN_FAILED_KIND,
        period_key=run_id,
        recipients=list(recipients) or [parseaddr(settings.mail_from)[1]],
        subject=subject,
        html=render("run_failed.html", context),
        text=render("run_failed.txt", context),
    )


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
