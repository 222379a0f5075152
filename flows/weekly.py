"""The Prefect flow ``salesops-weekly-manager-report``: Monday's manager report."""

from __future__ import annotations

from datetime import date

from prefect import flow

from flows.config.settings import get_settings
from flows.pipeline.logs import route_project_logs
from flows.pipeline.runs import run_name
from flows.pipeline.summary import EmailSent
from flows.pipeline.tasks import (
    OTHER_FLOWS_LOCK_WAIT_SECONDS,
    alert_on_failure,
    current_run_id,
    default_run_date,
    locked,
    reports_task,
)
from flows.reports.emailer import Resend
from flows.reports.periods import report_week


@flow(name="salesops-weekly-manager-report", flow_run_name=run_name("weekly-manager-report"), log_prints=True)
def weekly_manager_report(run_date: date | None = None, resend: Resend = False) -> list[EmailSent]:
    """Monday's manager report: the ISO week just ended, from the marts as they are (no re-ingest).

    The week is :func:`report_week` of the run date, as for ``salesops report preview --weekly``.
    """
    route_project_logs()
    settings = get_settings()
    settings.ensure_dirs()
    run_date = run_date or default_run_date(settings)
    day = report_week(run_date).end
    with (
        locked(settings, "weekly-manager-report", OTHER_FLOWS_LOCK_WAIT_SECONDS),
        alert_on_failure(settings, "weekly-manager-report", current_run_id(), day),
    ):
        return reports_task(settings, run_date, resend, weekly=True)
