"""How the flows' runs are named in Prefect and which tasks Prefect retries.

Run names carry the flow and the business date (``nightly-2026-11-28``), so a day's run is found
by name in the UI, in the API (the alert and deadline flows look it up so) and in alert e-mails.
Retries are decided per task in docs/operations.md: only steps that are safe to repeat, and only
on failures a later attempt can cure (an outage, not a wrong credential or a failed data check).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from flows.config.settings import get_settings
from flows.crm.retry import RetriesExhausted


def run_date_of(parameters: dict, default: Callable[[], date]) -> str:
    """The run's business date as ``YYYY-MM-DD``: its ``run_date`` parameter, else ``default()``."""
    value = parameters.get("run_date")
    return str(value)[:10] if value else default().isoformat()


def run_name(prefix: str, *named_by: str) -> Callable[[], str]:
    """A ``flow_run_name`` callable: ``<prefix>-<run date>`` (today in the company's zone when unset);
    the parameters ``named_by`` go between the two (``ingest-zoho-2026-11-28``)."""

    def name() -> str:
        from prefect.runtime import flow_run

        parts = [prefix, *(str(flow_run.parameters.get(p)) for p in named_by)]

        def today() -> date:  # as flows.pipeline.tasks.default_run_date, which imports this module
            return datetime.now(ZoneInfo(get_settings().timezone)).date()

        return "-".join([*parts, run_date_of(flow_run.parameters, today)])

    return name


# --- retries ----------------------------------------------------------------------------------


def _delays(*seconds: float) -> list[float]:
    """Retry delays; ``SALESOPS_TASK_RETRY_DELAY_SECONDS`` replaces each (tests make them short)."""
    override = get_settings().task_retry_delay_seconds
    return [override] * len(seconds) if override is not None else list(seconds)


def _retries_enabled() -> bool:
    """``SALESOPS_TASK_RETRIES=false`` (or ``0``) turns the task retries off: fail fast (tests, a run
    watched by hand). Read when a task fails, so it can be changed between runs of one process."""
    return get_settings().task_retries


def _causes(state: State) -> list[BaseException]:
    """The failed state's exception and everything it was raised from."""
    try:
        state.result()
    except BaseException as exc:
        chain: list[BaseException] = []
        current: BaseException | None = exc
        while current is not None and current not in chain:
            chain.append(current)
            current = current.__cause__ or current.__context__
        return chain
    return []


def _crm_outage(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry the landing only when a CRM kept failing transiently (the HTTP retries gave up)."""
    return _retries_enabled() and any(isinstance(exc, RetriesExhausted) for exc in _causes(state))


def _io_error(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry publishing on a file-system error only (disk full, NFS hiccup), not on a bad mart."""
    return _retries_enabled() and any(isinstance(exc, OSError) for exc in _causes(state))


#: SMTP failures a later attempt may cure: a dropped or refused connection, a 4xx reply.
_TRANSIENT_SMTP = re.compile(
    r"SMTPServerDisconnected|SMTPConnectError|ConnectionRefusedError|Timeout|: 4\d\d "
)


def _smtp_outage(task: Task, task_run: TaskRun, state: State) -> bool:
    """Retry the report sends when every failed recipient failed transiently."""
    failures = [str(exc) for exc in _causes(state)[:1]]
    parts = failures[0].split("email(s) failed: ", 1)[-1].split("; ") if failures else []
    return _retries_enabled() and bool(parts) and all(_TRANSIENT_SMTP.search(p) for p in parts)


def ingest_retries() -> dict:
    """Landing is idempotent per object: a page commits with its cursor, a rerun resumes from it."""
    return {"retries": 2, "retry_delay_seconds": _delays(60, 300), "retry_condition_fn": _crm_outage}


def publish_retries() -> dict:
    """Publishing writes a new file and renames it over the old one: a retry starts from scratch."""
    return {"retries": 1, "retry_delay_seconds": _delays(10), "retry_condition_fn": _io_error}


def report_retries() -> dict:
    """Sends are deduplicated by ``ops.email_log``: a retry reaches only who did not get the report."""
    return {"retries": 1, "retry_delay_seconds": _delays(300), "retry_condition_fn": _smtp_outage}
