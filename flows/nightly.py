"""The Prefect flow ``salesops-nightly``: ingest -> config -> dbt -> commissions -> gate -> publish
-> reports.

The flow is thin on purpose: each task calls one plain function from a concern package. A failure
in any step fails the flow run, visibly, with one line naming the step and the object, and e-mails
the data engineers; a critical data-check failure sends the data-quality alert, no report, and
publishes nothing (BI readers keep the last good marts). Every flow takes ``run_date`` and is
idempotent on it; see docs/architecture.md for the run contract.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.commissions.refresh import build_before_engine
from flows.config import loader as config_loader
from flows.config.settings import Settings, get_settings
from flows.crm.landing import IngestError, ingest_source
from flows.crm.page_batches import BatchLimits
from flows.crm.registry import build_connectors
from flows.ingest import ingest_runs_artifact
from flows.pipeline.logs import route_project_logs
from flows.pipeline.progress import DbtNodes, emit, ingest_page
from flows.pipeline.runs import ingest_retries, publish_retries, run_name
from flows.pipeline.summary import EmailSent, NightlySummary, StepFailed, step
from flows.pipeline.tasks import (
    alert_on_failure,
    commissions_task,
    current_run_id,
    default_run_date,
    locked,
    record_failure_alerted,
    reports_task,
    send,
)
from flows.quality.freshness import source_freshness
from flows.quality.gate import run_checks
from flows.quality.results import GateResult
from flows.reports.alerts import build_alert_report
from flows.reports.commission_data import warning_rows
from flows.reports.emailer import Resend
from flows.reports.recipients import alert_recipients
from flows.warehouse import publish
from flows.warehouse.database import Warehouse, ingest_run_as_dict
from flows.warehouse.dbt_docs import generate_static_docs
from flows.warehouse.dbt_runner import mart_row_counts, run_dbt
from flows.warehouse.versions import clean_leftovers


@task(name="ingest", **ingest_retries())
def ingest_task(settings: Settings, run_id: str, full_refresh: bool = False) -> list[dict]:
    logger = get_run_logger()
    warehouse = Warehouse(settings.warehouse_path)
    landed: list[dict] = []
    for connector in build_connectors(settings):
        with step("ingest", connector.source, logger):
            try:
                runs = ingest_source(
                    connector,
                    warehouse,
                    run_id=run_id,
                    full_refresh=full_refresh,
                    progress=ingest_page,
                    batch=BatchLimits.of(settings),
                )
            except IngestError as failure:  # the run still shows what landed, and what failed
                ingest_runs_artifact(landed + [ingest_run_as_dict(r) for r in failure.runs])
                raise
            finally:
                connector.close()
        landed += [ingest_run_as_dict(r) for r in runs]
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
def dbt_build_task(settings: Settings, run_date: date, full_refresh: bool = False) -> dict[str, int]:
    with step("dbt build", None, get_run_logger()):
        command = build_before_engine(full_refresh=full_refresh)
        run_dbt(settings, command, run_date=run_date, in_prefect=True, callbacks=[DbtNodes()])
    with Warehouse(settings.warehouse_path).connect() as conn:
        return mart_row_counts(conn)


@task(name="data-gate")
def gate_task(settings: Settings, run_id: str, layer: str) -> GateResult:
    """Run the suites of one layer: ``raw`` after landing, ``marts`` after dbt."""
    # Raw rows: only what this run landed (plus rows still quarantined); marts: everything.
    row_scope = "run" if layer == "raw" else "all"
    # dbt opens the working file itself: measure source freshness before the gate's connection
    measured = source_freshness(settings) if layer == "raw" else []
    with step("data checks", layer, get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        result = run_checks(
            conn, settings, run_id=run_id, layer=layer, row_scope=row_scope, measured=measured
        )
        failed = sum(1 for r in result.results if not r.success)
        emit("data checks", "advanced", layer, len(result.results), f"{failed} failed")
    create_markdown_artifact(
        key=f"data-gate-{layer}", markdown=result.summary_markdown(), description=f"Data gate: {layer}"
    )
    return result


@task(name="publish-marts", **publish_retries())
def publish_task(settings: Settings, run_id: str, run_date: date) -> publish.PublishResult:
    with step("publish", str(settings.published_warehouse_path), get_run_logger()):
        docs = generate_static_docs(settings, run_date)
        result = publish.publish_marts(settings, run_id=run_id, run_date=run_date, docs=docs)
    create_markdown_artifact(
        key="published-marts",
        markdown=f"Published {len(result.tables)} marts at {result.published_at:%Y-%m-%d %H:%M:%S} UTC "
        f"to `{result.database}` (read-only for BI) and `{result.parquet_dir}/<mart>.parquet`.\n\n"
        + "| mart | rows |\n|---|---:|\n"
        + "\n".join(f"| {name} | {rows} |" for name, rows in result.tables.items()),
        description="Marts published for readers after the gate passed",
    )
    return result


@task(name="data-engineer-alert")
def alert_task(settings: Settings, run_id: str, run_date: date, gate: GateResult) -> list[EmailSent]:
    with Warehouse(settings.warehouse_path).connect() as conn:
        report = build_alert_report(
            conn,
            settings,
            gate=gate,
            run_date=run_date,
            run_id=run_id,
            recipients=alert_recipients(settings),
        )
        return send(conn, settings, report, resend=True)


def _gate(settings: Settings, summary: NightlySummary, gate: GateResult) -> None:
    """Add a gate's results to the summary; on a critical failure alert the data engineers and stop."""
    summary.checks_passed += sum(1 for r in gate.results if r.success)
    summary.checks_failed += sum(1 for r in gate.results if not r.success)
    summary.critical_failures += [f"{r.suite}: {r.label}" for r in gate.critical_failures]
    summary.warnings += [f"{r.suite}: {r.label}" for r in gate.warnings]
    if gate.success:
        return
    summary.emails = alert_task(settings, summary.run_id, summary.run_date, gate)
    # one alert per failure: the data-quality alert stands for the run-failed one of this run
    alerted = record_failure_alerted(settings, summary.run_id, summary.emails, "the data-quality alert")
    summary.status = "failed"
    create_markdown_artifact(key="nightly-summary", markdown=summary.to_markdown())
    failure = StepFailed(
        "data checks",
        None,
        f"{len(gate.critical_failures)} critical check(s) failed: " + "; ".join(summary.critical_failures),
    )
    failure.summary = summary
    failure.alerted = alerted  # type: ignore[attr-defined]
    raise failure


@flow(name="salesops-nightly", flow_run_name=run_name("nightly"), log_prints=True)
def nightly(
    run_date: date | None = None,
    full_refresh: bool = False,
    resend: Resend = False,
    send_reports: bool = True,
) -> NightlySummary:
    """Ingest both CRMs, build the marts, gate them, publish them, and email the manager reports.

    ``full_refresh`` re-reads every CRM record (ignoring the cursors) and rebuilds every incremental
    dbt model from raw (``dbt build --full-refresh``).
    Only one nightly runs at a time (:func:`run_lock`); a second one fails at step 'lock' at once
    (or after ``SALESOPS_RUN_LOCK_WAIT_SECONDS``). ``send_reports=False`` (backfills) skips e-mail;
    ``resend``: True sends the reports to everyone again, ``"undecided"`` only to whoever's earlier
    outcome is unknown (:data:`flows.reports.emailer.Resend`).
    """
    route_project_logs()
    settings = get_settings()
    run_date = run_date or default_run_date(settings)
    run_id = current_run_id()
    # before the lock too, a failure is a named step and alerts (the alert needs no warehouse)
    with alert_on_failure(settings, "nightly", run_id, run_date):
        with step("prepare", str(settings.home_dir)):
            settings.ensure_dirs()
        with step("prepare", str(settings.published_warehouse_path)):
            publish.migrate_legacy_layout(settings)
    summary = NightlySummary(
        run_id=run_id,
        run_date=run_date,
        warehouse=settings.published_warehouse_path,
        reports_dir=settings.reports_dir,
        outbox_dir=settings.outbox_dir,
    )
    summary.work_warehouse = settings.warehouse_path
    summary.marts_dir = settings.marts_export_dir
    with (
        locked(settings, "nightly", settings.run_lock_wait_seconds),
        alert_on_failure(settings, "nightly", summary.run_id, run_date),
    ):
        clean_leftovers(settings.home_dir)  # of a publish killed in an earlier run
        summary.landed = ingest_task(settings, summary.run_id, full_refresh)
        raw_gate = gate_task(settings, summary.run_id, "raw")
        _gate(settings, summary, raw_gate)
        summary.config_rows = load_config_task(settings, summary.run_id)
        summary.marts = dbt_build_task(settings, run_date, full_refresh)
        commissions_task(settings, run_date)
        with Warehouse(settings.warehouse_path).connect() as conn:
            summary.marts = mart_row_counts(conn)
            summary.commission_warnings = [w["message"] for w in warning_rows(conn)]
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
