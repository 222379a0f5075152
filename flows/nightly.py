"""The Prefect flows: nightly (ingest -> config -> dbt -> gate -> publish -> reports), the weekly
manager report, the monthly commission close (statements + finance summary) and the operator's
ingest of one CRM (``salesops run ingest``).

The flows are thin on purpose: each task calls one plain function from a module beside it. A
failure in any step fails the flow run, visibly, with one line naming the step and the object,
and e-mails the data engineers. A critical data-check failure sends the data-quality alert, no
report, and publishes nothing: BI readers keep the last good marts (:mod:`flows.publish`).

Every flow takes ``run_date`` and is idempotent on it: landing is an upsert, dbt rebuilds, the
publish swaps whole files, and a report already sent for its period is not sent again unless
``resend``. One run at a time writes the working warehouse: :func:`run_lock` (a lock file under
``<home>/work/``; ``concurrency_limit: 1`` in prefect.yaml does the same on the Prefect side).
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import get_run_context

from flows import checks, commissions, config_loader, emailer, publish, reports
from flows.crm.registry import build_connectors
from flows.ingest import IngestError, ProgressCallback, ingest_source
from flows.pipeline import EmailSent, NightlySummary, StepFailed, step
from flows.runlock import RunLocked, run_lock
from flows.settings import Settings, get_settings
from flows.transform import mart_row_counts, run_dbt
from flows.warehouse import Warehouse, ingest_run_as_dict

#: How long the weekly and monthly flows wait for a running nightly to finish before failing.
OTHER_FLOWS_LOCK_WAIT_SECONDS = 1800.0


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
            except IngestError as failure:  # the run still shows what landed, and what failed
                ingest_runs_artifact(landed + [ingest_run_as_dict(r) for r in failure.runs])
                raise
            finally:
                connector.close()
        landed += [ingest_run_as_dict(r) for r in runs]
    ingest_runs_artifact(landed)
    return landed


def ingest_runs_artifact(landed: list[dict]) -> None:
    """The table artifact of a run's landing: one row per CRM object (API calls, rows received,
    inserted, updated and deleted, retries, duration). The nightly and ``salesops run ingest``
    publish the same one."""
    create_table_artifact(
        key="ingest-runs",
        table=[{k: v for k, v in r.items() if k not in ("started_at", "finished_at")} for r in landed],
        description="Rows and API calls per CRM object",
    )


@flow(name="salesops-ingest", log_prints=True)
def ingest_flow(
    source: str,
    objects: list[str] | None = None,
    full_refresh: bool = False,
    since: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> list[dict]:
    """Land one CRM's objects (all, or ``objects``) into raw.*: the operator's ``salesops run
    ingest``. Incremental from the stored cursors unless ``full_refresh``; ``since`` (an aware
    instant) re-reads what changed since then. Rows land in ``ops.ingest_runs`` under this flow
    run's id, and the run carries the nightly's ``ingest-runs`` table artifact."""
    settings = get_settings()
    settings.ensure_dirs()
    (connector,) = build_connectors(settings, [source])
    try:
        runs = ingest_source(
            connector,
            Warehouse(settings.warehouse_path),
            run_id=_run_id(),
            objects=objects,
            full_refresh=full_refresh,
            since=since,
            progress=progress,
        )
    except IngestError as failure:  # the run in Prefect still shows what landed, and what failed
        ingest_runs_artifact([ingest_run_as_dict(r) for r in failure.runs])
        raise
    finally:
        connector.close()
    landed = [ingest_run_as_dict(r) for r in runs]
    ingest_runs_artifact(landed)
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


@task(name="commissions")
def commissions_task(settings: Settings, run_date: date) -> int:
    """The commission engine over the credits dbt just built, then fct_commissions and below."""
    with step("commissions", "finance.commission_lines", get_run_logger()):
        return commissions.refresh_commissions(settings, run_date, in_prefect=True)


@task(name="data-gate")
def gate_task(settings: Settings, run_id: str, layer: str) -> checks.GateResult:
    """Run the suites of one layer: ``raw`` after landing, ``marts`` after dbt."""
    # Raw rows: only what this run landed (plus rows still quarantined); marts: everything.
    row_scope = "run" if layer == "raw" else "all"
    with step("data checks", layer, get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        result = checks.run_checks(conn, settings, run_id=run_id, layer=layer, row_scope=row_scope)
    create_markdown_artifact(
        key=f"data-gate-{layer}", markdown=result.summary_markdown(), description=f"Data gate: {layer}"
    )
    return result


@contextlib.contextmanager
def _locked(settings: Settings, flow_name: str, wait_seconds: float) -> Iterator[None]:
    try:
        with run_lock(settings, flow_name, wait_seconds):
            yield
    except RunLocked as exc:
        raise StepFailed("lock", flow_name, str(exc)) from exc


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
        attachments=report.attachments,
        resend=resend,
    )
    return [EmailSent(r.recipient, report.subject, r.status, r.error) for r in results]


def _raise_on_failed_sends(sent: list[EmailSent], what: str = "email") -> None:
    """Every recipient was tried; now the run fails if any of them did not get the report."""
    failed = [e for e in sent if e.status == "failed"]
    if failed:
        raise StepFailed(
            "reports",
            what,
            f"{len(failed)} email(s) failed: " + "; ".join(f"{e.recipient}: {e.error}" for e in failed),
        )


def _emails_artifact(key: str, sent: list[EmailSent]) -> None:
    if sent:
        create_table_artifact(
            key=key,
            table=[
                {"status": e.status, "recipient": e.recipient, "subject": e.subject, "error": e.error or ""}
                for e in sent
            ],
            description="E-mails of this run (one row per recipient)",
        )


@task(name="publish-marts")
def publish_task(settings: Settings, run_id: str, run_date: date) -> publish.PublishResult:
    with step("publish", str(settings.published_warehouse_path), get_run_logger()):
        result = publish.publish_marts(settings, run_id=run_id, run_date=run_date)
    create_markdown_artifact(
        key="published-marts",
        markdown=f"Published {len(result.tables)} marts at {result.published_at:%Y-%m-%d %H:%M:%S} UTC "
        f"to `{result.database}` (read-only for BI) and `{result.parquet_dir}/<mart>.parquet`.\n\n"
        + "| mart | rows |\n|---|---:|\n"
        + "\n".join(f"| {name} | {rows} |" for name, rows in result.tables.items()),
        description="Marts published for readers after the gate passed",
    )
    return result


@task(name="manager-reports")
def reports_task(settings: Settings, run_date: date, resend: bool, weekly: bool = False) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with step("reports", "manager", get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        for report in reports.build_manager_reports(conn, settings, run_date=run_date, weekly=weekly):
            sent += _send(conn, settings, report, resend=resend)
    _emails_artifact("manager-report-emails", sent)
    _raise_on_failed_sends(sent, "manager")
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
            recipients=reports.alert_recipients(settings),
        )
        return _send(conn, settings, report, resend=True)


def _alert_run_failed(
    settings: Settings, flow_name: str, run_id: str, run_date: date | None, exc: BaseException
):
    """Best effort: tell the data engineers a run failed; never hides the run's own error."""
    try:
        report = reports.build_run_failed_alert(
            settings,
            flow=flow_name,
            run_id=run_id,
            run_date=run_date,
            error=str(exc),
            recipients=reports.alert_recipients(settings),
        )
        with Warehouse(settings.warehouse_path).connect() as conn:
            return _send(conn, settings, report, resend=True)
    except Exception as alert_exc:  # the original failure matters more
        logging.getLogger("salesops").error(
            "could not send the run-failed alert: %s: %s", type(alert_exc).__name__, alert_exc
        )
        return []


@contextlib.contextmanager
def _alert_on_failure(settings: Settings, flow_name: str, run_id: str, run_date: date | None):
    try:
        yield
    except Exception as exc:
        if not getattr(exc, "alerted", False):
            _alert_run_failed(settings, flow_name, run_id, run_date, exc)
        raise


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
    failure.alerted = True  # type: ignore[attr-defined]
    raise failure


@flow(name="salesops-nightly", log_prints=True)
def nightly(
    run_date: date | None = None, full_refresh: bool = False, resend: bool = False, send_reports: bool = True
) -> NightlySummary:
    """Ingest both CRMs, build the marts, gate them, publish them, and email the manager reports.

    Only one nightly runs at a time (:func:`run_lock`); a second one fails at step 'lock' at once
    (or after ``SALESOPS_RUN_LOCK_WAIT_SECONDS``). ``send_reports=False`` (backfills) skips e-mail.
    """
    settings = get_settings()
    settings.ensure_dirs()
    publish.migrate_legacy_layout(settings)
    run_date = run_date or default_run_date(settings)
    summary = NightlySummary(
        run_id=_run_id(),
        run_date=run_date,
        warehouse=settings.published_warehouse_path,
        reports_dir=settings.reports_dir,
        outbox_dir=settings.outbox_dir,
    )
    summary.work_warehouse = settings.warehouse_path
    summary.marts_dir = settings.marts_export_dir
    with (
        _locked(settings, "nightly", settings.run_lock_wait_seconds),
        _alert_on_failure(settings, "nightly", summary.run_id, run_date),
    ):
        summary.landed = ingest_task(settings, summary.run_id, full_refresh)
        raw_gate = gate_task(settings, summary.run_id, "raw")
        _gate(settings, summary, raw_gate)
        summary.config_rows = load_config_task(settings, summary.run_id)
        summary.marts = dbt_build_task(settings, run_date)
        commissions_task(settings, run_date)
        with Warehouse(settings.warehouse_path).connect() as conn:
            summary.marts = mart_row_counts(conn)
        _gate(settings, summary, gate_task(settings, summary.run_id, "marts"))
        summary.published = publish_task(settings, summary.run_id, run_date)
        summary.quarantined = len(raw_gate.quarantined)
        if raw_gate.quarantined:  # published without them; the data engineers must know which
            summary.emails += alert_task(settings, summary.run_id, run_date, raw_gate)
        if send_reports:
            summary.emails += reports_task(settings, run_date, resend)
            summary.reports = sorted(settings.reports_dir.glob(f"*_{run_date.isoformat()}_*.html"))
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
    day = _previous_day(settings, run_date)
    with (
        _locked(settings, "weekly-manager-report", OTHER_FLOWS_LOCK_WAIT_SECONDS),
        _alert_on_failure(settings, "weekly-manager-report", _run_id(), day),
    ):
        return reports_task(settings, day, resend, weekly=True)


@task(name="commission-statements")
def statements_task(settings: Settings, month: date, resend: bool) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with (
        step("reports", "statements", get_run_logger()),
        Warehouse(settings.warehouse_path).connect() as conn,
    ):
        for report in reports.build_commission_statements(conn, settings, month=month):
            sent += _send(conn, settings, report, resend=resend)
    _emails_artifact("statement-emails", sent)
    return sent


@task(name="finance-summary")
def finance_task(settings: Settings, month: date, resend: bool) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with step("reports", "finance", get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        for report in reports.build_finance_summary(conn, settings, month=month):
            sent += _send(conn, settings, report, resend=resend)
    _emails_artifact("finance-emails", sent)
    return sent


@flow(name="salesops-monthly-commissions", log_prints=True)
def monthly_commissions(run_date: date | None = None, resend: bool = False, send_reports: bool = True) -> str:
    """Commission close for the month before ``run_date``: rebuild the finance marts, gate them,
    export that month's lines as CSV, then e-mail one statement per rep and the finance summary
    (payroll CSV + XLSX). Returns the CSV export's path. A failed statement does not stop the
    others or the finance summary; the run fails at the end, naming every failed recipient."""
    settings = get_settings()
    settings.ensure_dirs()
    month = reports.previous_month(run_date or default_run_date(settings))
    run_id = _run_id()
    with (
        _locked(settings, "monthly-commissions", OTHER_FLOWS_LOCK_WAIT_SECONDS),
        _alert_on_failure(settings, "monthly-commissions", run_id, month),
    ):
        with step("dbt build", "marts.finance", get_run_logger()):
            run_dbt(settings, ["build", "--select", "+marts.finance"], run_date=month, in_prefect=True)
        commissions_task(settings, run_date or default_run_date(settings))
        with Warehouse(settings.warehouse_path).connect() as conn:
            gate = checks.run_checks(
                conn,
                settings,
                run_id=run_id,
                suites=["marts_commissions", "marts_commission_statements", "marts_reconciliation"],
            )
            if not gate.success:
                raise StepFailed(
                    "data checks", "marts_commissions", "; ".join(r.label for r in gate.critical_failures)
                )
            cursor = conn.execute(
                "select * from marts.fct_commissions where period_month = ? "
                "order by rep_id, commission_line_id",
                [month],
            )
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        path = settings.reports_dir / f"commissions_{month:%Y-%m}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)
        os.replace(tmp, path)
        create_table_artifact(
            key="commission-lines",
            table=[{c: str(v) for c, v in zip(columns, r, strict=True)} for r in rows[:500]],
            description=f"Commission lines {month:%Y-%m} (first 500)",
        )
        if send_reports:
            sent = statements_task(settings, month, resend) + finance_task(settings, month, resend)
            _raise_on_failed_sends(sent, "commission statements / finance summary")
    return str(path)
