"""The Prefect flow ``salesops-monthly-commissions``: the month-end commission run (finance marts,
close of the month, CSV export, one statement per rep, the finance summary with payroll CSV + XLSX)."""

from __future__ import annotations

import os
from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from flows.commissions.close import close_period
from flows.commissions.refresh import build_before_engine
from flows.commissions.tables import closed_periods
from flows.config.settings import Settings, get_settings
from flows.exports.spreadsheet import csv_bytes
from flows.pipeline.logs import route_project_logs
from flows.pipeline.runs import run_name
from flows.pipeline.summary import EmailSent, StepFailed, step
from flows.pipeline.tasks import (
    OTHER_FLOWS_LOCK_WAIT_SECONDS,
    alert_on_failure,
    commissions_task,
    current_run_id,
    default_run_date,
    emails_artifact,
    locked,
    raise_on_failed_sends,
    send,
)
from flows.quality.gate import run_checks
from flows.reports.emailer import Resend
from flows.reports.finance import build_finance_summary
from flows.reports.model import previous_month
from flows.reports.payroll import export_period
from flows.reports.statements import build_commission_statements
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt


@task(name="commission-statements")
def statements_task(settings: Settings, month: date, resend: Resend) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with (
        step("reports", "statements", get_run_logger()),
        Warehouse(settings.warehouse_path).connect() as conn,
    ):
        for report in build_commission_statements(conn, settings, month=month):
            sent += send(conn, settings, report, resend=resend)
    emails_artifact("statement-emails", sent)
    return sent


@task(name="finance-summary")
def finance_task(settings: Settings, month: date, resend: Resend) -> list[EmailSent]:
    sent: list[EmailSent] = []
    with step("reports", "finance", get_run_logger()), Warehouse(settings.warehouse_path).connect() as conn:
        for report in build_finance_summary(conn, settings, month=month):
            sent += send(conn, settings, report, resend=resend)
    emails_artifact("finance-emails", sent)
    return sent


@flow(name="salesops-monthly-commissions", flow_run_name=run_name("monthly-commissions"), log_prints=True)
def monthly_commissions(
    run_date: date | None = None, resend: Resend = False, send_reports: bool = True, close: bool = True
) -> str:
    """Commission close for the month before ``run_date``: rebuild the finance marts, gate them,
    close the month (unless ``close`` is false or it is closed already), export its lines and the
    payroll (CSV + XLSX), then e-mail one statement per rep and the finance summary. Returns the
    lines export's path. A failed statement does not stop the others or the finance summary; the
    run fails at the end, naming every failed recipient. Without ``close``, the statements and
    the summary say the month is provisional."""
    settings = get_settings()
    settings.ensure_dirs()
    route_project_logs()
    day = run_date or default_run_date(settings)
    month = previous_month(day)
    run_id = current_run_id()
    with (
        locked(settings, "monthly-commissions", OTHER_FLOWS_LOCK_WAIT_SECONDS),
        alert_on_failure(settings, "monthly-commissions", run_id, month),
    ):
        with step("dbt build", "marts.finance", get_run_logger()):
            run_dbt(settings, build_before_engine("+marts.finance"), run_date=month, in_prefect=True)
        commissions_task(settings, day)
        with Warehouse(settings.warehouse_path).connect() as conn:
            gate = run_checks(
                conn,
                settings,
                run_id=run_id,
                suites=["marts_commissions", "marts_commission_statements", "marts_reconciliation"],
            )
            if not gate.success:
                raise StepFailed(
                    "data checks", "marts_commissions", "; ".join(r.label for r in gate.critical_failures)
                )
            if close and month not in closed_periods(conn):
                with step("close", f"{month:%Y-%m}", get_run_logger()):
                    # a month without lines closes too (nothing to pay is a result as well)
                    close_period(conn, month, f"monthly flow {run_id}", today=day, force=True)
            export_period(conn, month, settings.reports_dir, settings.reporting_currency)
            cursor = conn.execute(
                "select * from marts.fct_commissions where period_month = ? "
                "order by rep_id, commission_line_id",
                [month],
            )
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        path = settings.reports_dir / f"commissions_{month:%Y-%m}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(csv_bytes(columns, rows))
        os.replace(tmp, path)
        create_table_artifact(
            key="commission-lines",
            table=[{c: str(v) for c, v in zip(columns, r, strict=True)} for r in rows[:500]],
            description=f"Commission lines {month:%Y-%m} (first 500)",
        )
        if send_reports:
            sent = statements_task(settings, month, resend) + finance_task(settings, month, resend)
            raise_on_failed_sends(sent, "commission statements / finance summary")
    return str(path)
