"""The nightly Prefect flow: ingest both CRMs -> load config -> dbt build -> data gate -> reports.

The flow is thin on purpose: each task calls one plain function from a module beside it. A
failure in any step fails the flow run, visibly, with one line naming the step and the object.
A critical data-check failure sends the data-engineer alert and no manager report.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import get_run_context

from flows import checks, config_loader, emailer, reports
from flows.crm.registry import build_connectors
from flows.ingest import ingest_source
from flows.pipeline import EmailSent, NightlySummary, StepFailed, step
from flows.settings import Settings, get_settings
from flows.transform import mart_row_counts, run_dbt
from flows.warehouse import Warehouse, ingest_run_as_dict


def default_run_date(settings: Settings) -> date:
    """Today in the company's time zone: the nightly run at 02:30 Shanghai reports on that day."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:
        return uuid.uuid4().hex


@task(name="ingest")
def ingest_task(settings: Settings, run_id: str, full_refresh: bool = False) -> list[dict]:
    logger = get_run_logger()
    warehouse = Warehouse(settings.warehouse_path)
    landed: list[dict] = []
    for connector in build_connectors(settings):
        with step("ingest", connector.source, logger):
            try:
                runs = ingest_source(connector, warehouse, run_id=run_id, full_refresh=full_refresh)
            finally:
                connector.close()
        landed += [ingest_run_as_dict(r) for r in runs]
    create_table_artifact(
        key="ingest-runs",
        table=[{k: v for k, v in r.items() if k not in ("started_at", "finished_at")} for r in landed],
        description="Rows and API calls per CRM object",
    )
    return landed


@task(name="load-config")
def load_config_task(settings: Settings, run_id: str) -> dict[str, int]:
    with (
        step("load-config", str(settings.config_path), get_run_logger()),
        Warehouse(settings.warehouse_path).connect() as conn,
    ):
        return config_loader.load_config(conn, settings.config_path, run_id=run_id)


@task(name="dbt-build")
def dbt_build_task(settings: Settings, run_date: date) -> dict[str, int]:
    with step("dbt build", None, get_run_logger()):
        run_dbt(settings, ["build"], run_date=run_date, in_prefect=True)
    with Warehouse(settings.warehouse_path).connect() as conn:
        return mart_row_counts(conn)


@task(name="data-gate")
def gate_task(settings: Settings, run_id: str, layer: str) -> checks.GateResult:
    """Run the suites of one layer: ``raw`` after landing, ``marts`` after dbt."""
    suites = [name for name in checks.SUITE_SOURCES if name.startswith(f"{layer}_")]
    with step("data checks", layer, get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        result = checks.run_checks(conn, settings, run_id=run_id, suites=suites)
    create_markdown_artifact(
        key=f"data-gate-{layer}", markdown=result.summary_markdown(), description=f"Data gate: {layer}"
    )
    return result


def _send(conn, settings: Settings, report: reports.Report, *, resend: bool) -> list[EmailSent]:
    """Save the report's HTML, then email it; one EmailSent per recipient."""
    reports.write_report_html(report, settings)
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
        resend=resend,
    )
    return [EmailSent(r.recipient, report.subject, r.status, r.error) for r in results]


def _raise_on_failed_sends(sent: list[EmailSent]) -> None:
    """Every recipient was tried; now the run fails if any of them did not get the report."""
    failed = [e for e in sent if e.status == "failed"]
    if failed:
        raise StepFailed(
            "reports",
            "email",
            f"{len(failed)} email(s) failed: " + "; ".join(f"{e.recipient}: {e.error}" for e in failed),
        )


@task(name="manager-reports")
def reports_task(settings: Settings, run_date: date, resend: bool, weekly: bool = False) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with step("reports", "manager", get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        for report in reports.build_manager_reports(conn, settings, run_date=run_date):
            if weekly:
                year, week, _ = run_date.isocalendar()
                report = replace(
                    report,
                    kind="manager_weekly",
                    period_key=f"{year}-W{week:02d}",
                    subject=f"[weekly] {report.subject}",
                )
            sent += _send(conn, settings, report, resend=resend)
    _raise_on_failed_sends(sent)
    return sent


@task(name="data-engineer-alert")
def alert_task(settings: Settings, run_id: str, run_date: date, gate: checks.GateResult) -> list[EmailSent]:
    with Warehouse(settings.warehouse_path).connect() as conn:
        report = reports.build_alert_report(
            conn,
            settings,
            gate=gate,
            run_date=run_date,
            run_id=run_id,
            recipients=settings.alert_recipient_list,
        )
        return _send(conn, settings, report, resend=True)


def _gate(settings: Settings, summary: NightlySummary, gate: checks.GateResult) -> None:
    """Add a gate's results to the summary; on a critical failure alert the data engineers and stop."""
    summary.checks_passed += sum(1 for r in gate.results if r.success)
    summary.checks_failed += sum(1 for r in gate.results if not r.success)
    summary.critical_failures += [f"{r.suite}: {r.label}" for r in gate.critical_failures]
    summary.warnings += [f"{r.suite}: {r.label}" for r in gate.warnings]
    if gate.success:
        return
    summary.emails = alert_task(settings, summary.run_id, summary.run_date, gate)
    summary.status = "failed"
    create_markdown_artifact(key="nightly-summary", markdown=summary.to_markdown())
    failure = StepFailed(
        "data checks",
        None,
        f"{len(gate.critical_failures)} critical check(s) failed: " + "; ".join(summary.critical_failures),
    )
    failure.summary = summary
    raise failure


@flow(name="salesops-nightly", log_prints=True)
def nightly(run_date: date | None = None, full_refresh: bool = False, resend: bool = False) -> NightlySummary:
    """Ingest both CRMs, build the marts, gate them, and email the manager reports for ``run_date``."""
    settings = get_settings()
    settings.ensure_dirs()
    run_date = run_date or default_run_date(settings)
    summary = NightlySummary(
        run_id=_run_id(),
        run_date=run_date,
        warehouse=settings.warehouse_path,
        reports_dir=settings.reports_dir,
        outbox_dir=settings.outbox_dir,
    )
    summary.landed = ingest_task(settings, summary.run_id, full_refresh)
    _gate(settings, summary, gate_task(settings, summary.run_id, "raw"))
    summary.config_rows = load_config_task(settings, summary.run_id)
    summary.marts = dbt_build_task(settings, run_date)
    _gate(settings, summary, gate_task(settings, summary.run_id, "marts"))
    summary.emails = reports_task(settings, run_date, resend)
    summary.status = "completed"
    create_markdown_artifact(key="nightly-summary", markdown=summary.to_markdown())
    return summary


def _previous_day(settings: Settings, run_date: date | None) -> date:
    return (run_date or default_run_date(settings)) - timedelta(days=1)


@flow(name="salesops-weekly-manager-report", log_prints=True)
def weekly_manager_report(run_date: date | None = None, resend: bool = False) -> list[EmailSent]:
    """Monday's manager report: the marts as of the end of the week just ended (no re-ingest)."""
    settings = get_settings()
    settings.ensure_dirs()
    return reports_task(settings, _previous_day(settings, run_date), resend, weekly=True)


@flow(name="salesops-monthly-commissions", log_prints=True)
def monthly_commissions(run_date: date | None = None) -> str:
    """Commission run for the month before ``run_date``: rebuild the finance marts, gate them, and
    export that month's statement lines as CSV for finance. Returns the export's path."""
    settings = get_settings()
    settings.ensure_dirs()
    first_of_run_month = (run_date or default_run_date(settings)).replace(day=1)
    month = (first_of_run_month - timedelta(days=1)).replace(day=1)
    with step("dbt build", "marts.finance", get_run_logger()):
        run_dbt(settings, ["build", "--select", "+marts.finance"], run_date=month, in_prefect=True)
    with Warehouse(settings.warehouse_path).connect() as conn:
        gate = checks.run_checks(conn, settings, run_id=_run_id(), suites=["marts_commissions"])
        if not gate.success:
            raise StepFailed(
                "data checks", "marts_commissions", "; ".join(r.label for r in gate.critical_failures)
            )
        cursor = conn.execute(
            "select * from marts.fct_commissions where period_month = ? order by rep_id, commission_line_id",
            [month],
        )
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    path = settings.reports_dir / f"commissions_{month:%Y-%m}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(rows)
    create_table_artifact(
        key="commission-lines",
        table=[{c: str(v) for c, v in zip(columns, r, strict=True)} for r in rows[:500]],
        description=f"Commission lines {month:%Y-%m} (first 500)",
    )
    return str(path)
