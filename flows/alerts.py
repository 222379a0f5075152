"""Prefect flows that alert the data engineers from outside the run that went wrong.

``salesops-run-alert`` is what the automation of ``prefect.yaml`` runs when a salesops flow run
ends Failed or Crashed: a crashed run (killed worker, out of memory) never reaches its own
``alert_on_failure``. It e-mails the run-failed alert through the project's own sending, once per
run and recipient: a run that already alerted from inside is not alerted twice, whether by its own
run-failed alert or by the data-quality alert of a gate stop (recorded as ``covered`` in the e-mail
ledger); a crash, or a failure whose alert reached nobody, is alerted here.

``salesops-nightly-deadline`` runs on its own schedule at the hour the nightly must be done by: when
no run named ``nightly-<date>`` has completed, it sends the alert, naming what it found (no run at
all, a late one still scheduled, one still running). docs/operations.md explains both.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.objects import FlowRun

from flows.config.settings import get_settings
from flows.pipeline.logs import route_project_logs
from flows.pipeline.runs import run_name
from flows.pipeline.summary import EmailSent
from flows.pipeline.tasks import default_run_date, send_run_failed_alert

log = logging.getLogger("salesops")


def _run_date(run: FlowRun) -> date | None:
    value = (run.parameters or {}).get("run_date")
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


@flow(name="salesops-run-alert", flow_run_name="alert-{flow_run}", log_prints=True)
def run_alert(flow_run: str) -> list[EmailSent]:
    """E-mail the run-failed alert for ``flow_run`` (its id, or the event resource id
    ``prefect.flow-run.<id>`` the automation passes)."""
    route_project_logs()
    run_id = flow_run.rsplit(".", 1)[-1]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
        flow_name = client.read_flow(run.flow_id).name.removeprefix("salesops-")
    state = run.state
    error = f"run {run.name} ended {state.name if state else 'in no state'}: {state.message if state else ''}"
    log.info("alerting the data engineers: %s", error)
    sent = send_run_failed_alert(get_settings(), flow_name, run_id, _run_date(run), error, resend=False)
    if sent and all(e.status == "skipped_duplicate" for e in sent):
        log.info("run %s already alerted its failure (e-mail ledger): nothing sent", run.name)
    return sent


@flow(name="salesops-nightly-deadline", flow_run_name=run_name("nightly-deadline"), log_prints=True)
def nightly_deadline(run_date: date | None = None) -> str:
    """Alert when the nightly run of ``run_date`` (default today) has not completed by now."""
    route_project_logs()
    settings = get_settings()
    day = run_date or default_run_date(settings)
    name = f"nightly-{day.isoformat()}"
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    if any(r.state and r.state.is_completed() for r in runs):
        log.info("%s completed: nothing to alert", name)
        return "completed"
    found = ", ".join(f"{r.name}: {r.state.name if r.state else '?'}" for r in runs) or "no run at all"
    now = datetime.now(ZoneInfo(settings.timezone))
    error = f"the nightly run for {day} has not completed by {now:%H:%M} {settings.timezone} ({found})"
    log.warning(error)
    send_run_failed_alert(settings, "nightly", f"deadline-{day.isoformat()}", day, error, resend=False)
    return "alerted"
