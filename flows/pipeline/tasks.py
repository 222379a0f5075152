"""Prefect tasks and helpers that more than one flow uses: the run id and run date, the run lock
as a named step, sending a report and its artifact, the run-failed alert, and the commission and
manager-report tasks (the nightly and the weekly/monthly flows share them)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.context import get_run_context

from flows import commissions
from flows.config.settings import Settings
from flows.pipeline.runs import report_retries
from flows.pipeline.summary import EmailSent, StepFailed, step
from flows.pipeline.warehouse_limit import warehouse_slot
from flows.reports import emailer
from flows.reports.alerts import build_run_failed_alert
from flows.reports.email_ledger import EmailLedger
from flows.reports.html_files import write_report_html
from flows.reports.manager_report import build_manager_reports
from flows.reports.model import RUN_FAILED_KIND, Report
from flows.reports.recipients import alert_recipients
from flows.warehouse.database import Warehouse
from flows.warehouse.runlock import RunLocked, run_lock

#: How long the weekly and monthly flows wait for a running nightly to finish before failing.
OTHER_FLOWS_LOCK_WAIT_SECONDS = 1800.0


def default_run_date(settings: Settings) -> date:
    """Today in the company's time zone: the nightly run at 02:30 Shanghai reports on that day."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def current_run_id() -> str:
    """The Prefect flow run's id (a fresh one outside a flow run): rows a run writes carry it."""
    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:
        return uuid.uuid4().hex


@contextlib.contextmanager
def locked(settings: Settings, flow_name: str, wait_seconds: float) -> Iterator[None]:
    """The run lock, failing as step 'lock' so the one-line failure names it. A deployed run first
    takes the Prefect global concurrency limit ``salesops-warehouse`` (waiting shows in Prefect)."""
    try:
        with warehouse_slot(settings, flow_name), run_lock(settings, flow_name, wait_seconds):
            yield
    except RunLocked as exc:
        raise StepFailed("lock", flow_name, str(exc)) from exc


def send(conn, settings: Settings, report: Report, *, resend: emailer.Resend) -> list[EmailSent]:
    """Save the report's HTML, then email it; one EmailSent per recipient."""
    write_report_html(report, settings)
    results = emailer.send_report(
        conn,
        settings,
        kind=report.kind,
        period_key=report.period_key,
        recipients=report.recipients,
        subject=report.subject,
        html=report.html,
        text=report.text,
        inline_images=report.inline_images,
        attachments=report.attachments,
        resend=resend,
    )
    return [EmailSent(r.recipient, report.subject, r.status, r.error) for r in results]


def raise_on_failed_sends(sent: list[EmailSent], what: str = "email") -> None:
    """Every recipient was tried; now the run fails if any of them did not get the report, or may
    not have (``ambiguous``: the alert tells the data engineers to check and ``--resend``)."""
    failed = [e for e in sent if e.status in ("failed", "ambiguous")]
    if failed:
        raise StepFailed(
            "reports",
            what,
            f"{len(failed)} email(s) failed: " + "; ".join(f"{e.recipient}: {e.error}" for e in failed),
        )


def emails_artifact(key: str, sent: list[EmailSent]) -> None:
    """A table artifact with one row per recipient of this run's e-mails."""
    if sent:
        create_table_artifact(
            key=key,
            table=[
                {"status": e.status, "recipient": e.recipient, "subject": e.subject, "error": e.error or ""}
                for e in sent
            ],
            description="E-mails of this run (one row per recipient)",
        )


def send_run_failed_alert(
    settings: Settings, flow_name: str, run_id: str, run_date: date | None, error: str, *, resend: bool = True
) -> list[EmailSent]:
    """Best effort: tell the data engineers a run failed; never hides the run's own error.

    Sent once per run id and recipient unless ``resend``: the automation's alert
    (``flows/alerts.py``) skips whoever the failing flow already told, by this alert or by the
    data-quality alert that stopped it (:func:`record_failure_alerted`). Sent without the work
    warehouse (the e-mail ledger records it): the failure may be that file."""
    try:
        report = build_run_failed_alert(
            settings,
            flow=flow_name,
            run_id=run_id,
            run_date=run_date,
            error=error,
            recipients=alert_recipients(settings),
        )
        return send(None, settings, report, resend=resend)
    except Exception as alert_exc:  # the original failure matters more
        logging.getLogger("salesops").error(
            "could not send the run-failed alert: %s: %s", type(alert_exc).__name__, alert_exc
        )
        return []


def record_failure_alerted(settings: Settings, run_id: str, sent: list[EmailSent], by: str) -> bool:
    """Record in the e-mail ledger that the recipients ``sent`` reached were told of run ``run_id``'s
    failure by ``by`` (e.g. the data-quality alert), so the run-failed alert of the same run
    (the automation's, ``flows/alerts.py``) is not sent to them as well. True when anyone was told:
    only then is the failure alerted; an alert that reached nobody leaves the run-failed alert due."""
    told = [e.recipient for e in sent if e.status == "sent"]
    try:
        with EmailLedger(settings) as ledger:
            for recipient in told:
                ledger.covered(RUN_FAILED_KIND, run_id, recipient, by)
    except Exception as exc:  # the failure being alerted matters more; at worst it is alerted twice
        logging.getLogger("salesops").error(
            "could not record that %s alerted run %s: %s: %s", by, run_id, type(exc).__name__, exc
        )
    return bool(told)


@contextlib.contextmanager
def alert_on_failure(settings: Settings, flow_name: str, run_id: str, run_date: date | None):
    """E-mail the data engineers when the block fails, unless the failure already alerted."""
    try:
        yield
    except Exception as exc:
        if not getattr(exc, "alerted", False):
            send_run_failed_alert(settings, flow_name, run_id, run_date, str(exc))
        raise


@task(name="commissions")
def commissions_task(settings: Settings, run_date: date) -> int:
    """The commission engine over the credits dbt just built, then fct_commissions and below."""
    with step("commissions", "finance.commission_lines", get_run_logger()):
        return commissions.refresh_commissions(settings, run_date, in_prefect=True)


@task(name="manager-reports", **report_retries())
def reports_task(
    settings: Settings, run_date: date, resend: emailer.Resend, weekly: bool = False
) -> list[EmailSent]:
    """Build and send every manager's report for ``run_date`` (daily or weekly)."""
    sent: list[EmailSent] = []
    with step("reports", "manager", get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        for report in build_manager_reports(conn, settings, run_date=run_date, weekly=weekly):
            sent += send(conn, settings, report, resend=resend)
    emails_artifact("manager-report-emails", sent)
    raise_on_failed_sends(sent, "manager")
    return sent
