"""Run names, task-retry conditions, progress events, project logs in Prefect, the deploy checks
and the sandbox env file (issue 15; docs/operations.md)."""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from prefect.states import Failed

from flows.cli import deploy
from flows.cli.hints import CRM_SETTINGS_HINT, EPHEMERAL_SERVER_HINT, failure_hint
from flows.cli.sandbox import write_env_file
from flows.crm.retry import RetriesExhausted, Retryable
from flows.pipeline import progress, runs
from flows.pipeline.summary import StepFailed, step

REPO = Path(__file__).resolve().parents[2]


def test_run_date_of_prefers_the_parameter() -> None:
    assert runs.run_date_of({"run_date": "2026-11-28"}, lambda: date(2000, 1, 1)) == "2026-11-28"
    assert runs.run_date_of({"run_date": date(2026, 11, 28)}, lambda: date(2000, 1, 1)) == "2026-11-28"
    assert runs.run_date_of({"run_date": None}, lambda: date(2026, 12, 1)) == "2026-12-01"


def _failed_with(exc: BaseException):
    return Failed(data=exc)


def _wrapped(cause: BaseException) -> StepFailed:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise StepFailed("ingest", "zoho.deals", inner) from inner
    except StepFailed as failure:
        return failure


@pytest.fixture
def retries_on(monkeypatch) -> None:
    monkeypatch.setenv("SALESOPS_TASK_RETRIES", "true")


@pytest.mark.usefixtures("retries_on")
def test_ingest_retries_on_an_outage_only() -> None:
    outage = _wrapped(RetriesExhausted("HTTP 502", 5, Retryable("HTTP 502")))
    wrong_secret = _wrapped(RuntimeError("zoho: invalid_client"))
    assert runs._crm_outage(None, None, _failed_with(outage))  # type: ignore[arg-type]
    assert not runs._crm_outage(None, None, _failed_with(wrong_secret))  # type: ignore[arg-type]


@pytest.mark.usefixtures("retries_on")
def test_publish_retries_on_file_errors_and_reports_on_transient_smtp_only() -> None:
    assert runs._io_error(None, None, _failed_with(_wrapped(OSError(28, "No space left"))))  # type: ignore[arg-type]
    assert not runs._io_error(None, None, _failed_with(_wrapped(ValueError("bad mart"))))  # type: ignore[arg-type]
    dropped = StepFailed(
        "reports", "manager", "2 email(s) failed: a@x: SMTPServerDisconnected: gone; b@x: x: 421 busy"
    )
    refused = StepFailed(
        "reports", "manager", "1 email(s) failed: a@x: SMTPRecipientsRefused: a@x: 550 no such user"
    )
    assert runs._smtp_outage(None, None, _failed_with(dropped))  # type: ignore[arg-type]
    assert not runs._smtp_outage(None, None, _failed_with(refused))  # type: ignore[arg-type]


def test_retries_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("SALESOPS_TASK_RETRIES", "false")
    assert not runs._crm_outage(
        None, None, _failed_with(_wrapped(RetriesExhausted("HTTP 502", 5, Retryable("HTTP 502"))))
    )  # type: ignore[arg-type]


def test_retry_policies_are_bounded() -> None:
    for policy in (runs.ingest_retries(), runs.publish_retries(), runs.report_retries()):
        assert 1 <= policy["retries"] <= 2
        assert len(policy["retry_delay_seconds"]) == policy["retries"]


def test_steps_and_pages_reach_the_listeners() -> None:
    seen: list[progress.ProgressEvent] = []
    with progress.listening(seen.append):
        with step("ingest", "zoho"):
            progress.ingest_page("zoho", "deals", 200)
        with pytest.raises(StepFailed), step("dbt build"):
            raise RuntimeError("boom")
    progress.ingest_page("zoho", "deals", 400)  # nobody listens any more
    assert [(e.step, e.kind, e.item, e.done, e.detail) for e in seen] == [
        ("ingest", "started", "zoho", None, ""),
        ("ingest", "advanced", "zoho.deals", 200, "200 rows"),
        ("ingest", "finished", "zoho", None, "done"),
        ("dbt build", "started", "dbt build", None, ""),
        ("dbt build", "finished", "dbt build", None, "failed"),
    ]


STEP_RSS_SCRIPT = """
import logging, sys
from flows.pipeline.summary import peak_rss_mib, step
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
with step("publish"):
    pass
grow = peak_rss_mib() + 64  # more than the peak so far, every page touched: the step raises it
with step("dbt build", "warehouse"):
    block = bytearray(grow * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    del block
print("peak", peak_rss_mib(), "grow", grow)
"""


def test_a_step_logs_its_time_and_the_peak_rss_it_raised() -> None:
    """The run's log says which step set the process's peak memory (docs/operations.md). In a
    process of its own: a small one, whose peak a small block raises."""
    out = subprocess.run(
        [sys.executable, "-c", STEP_RSS_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    lines = [line for line in out if line.startswith("step ")]
    peak, grow = (int(x) for x in out[-1].split()[1::2])
    assert lines[0].startswith("step publish done in ") and "raised" not in lines[0]
    assert lines[1].startswith("step dbt build (warehouse) done in ")
    raised = re.search(
        r"; peak RSS (\d+) MiB \(raised by this step from (\d+) MiB\); \d+ MiB resident after$", lines[1]
    )
    assert raised, lines[1]
    assert int(raised[1]) == peak >= grow > int(raised[2])


STEP_TRIM_SCRIPT = """
import logging, sys
from flows.pipeline.summary import current_rss_mib, step
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
kept = []
with step("ingest", "zoho"):
    pages = []
    for i in range(300_000):  # ~300 MiB of 1 KB objects (glibc heap, not Python's arenas)
        pages.append(bytes(1000))
        if i % 50 == 0:
            kept.append(bytes(1000))  # live objects between the freed ones: nothing at the heap top
    del pages
    print("freed", current_rss_mib())
"""


def test_a_step_hands_what_it_freed_back_to_the_system() -> None:
    """What an ingest freed must not stay resident into the steps after it (summary.py
    ``release_freed_memory``): without the trim, glibc keeps the freed heap and the resident set
    after the step is what it was just after the free."""
    out = subprocess.run(
        [sys.executable, "-c", STEP_TRIM_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    freed = int(next(line for line in out if line.startswith("freed ")).split()[1])
    line = next(line for line in out if line.startswith("step ingest (zoho) done in "))
    after = int(re.search(r"; (\d+) MiB resident after$", line)[1])
    assert freed > 250  # the freed objects were still resident before the step ended
    assert after < freed - 200, line


def test_a_failing_listener_never_fails_the_run(caplog) -> None:
    def broken(event: progress.ProgressEvent) -> None:
        raise RuntimeError("display gone")

    with progress.listening(broken), caplog.at_level(logging.WARNING):
        progress.emit("ingest", "started", "zoho")
    assert "display gone" in caplog.text


def test_the_cli_display_follows_the_events() -> None:
    from rich.console import Console

    from flows.cli.progress import showing_progress

    console = Console(record=True, width=120, force_terminal=False)
    with showing_progress(console):
        with step("ingest", "zoho"):
            progress.ingest_page("zoho", "deals", 1200)
        with step("data checks", "raw"):
            progress.emit("data checks", "advanced", "raw", 42, "0 failed")
    text = console.export_text()
    assert "zoho.deals: 1,200 rows" in text and "ingest zoho: done" in text
    assert "data checks raw: 42 run, 0 failed: done" in text


@pytest.mark.usefixtures("prefect_harness")
def test_project_log_lines_land_in_the_flow_runs_log() -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.context import get_run_context
    from prefect.logging.handlers import APILogHandler

    from flows.pipeline.logs import route_project_logs

    @flow(name="log-probe")
    def probe() -> str:
        route_project_logs()
        logging.getLogger("flows.crm.zoho").info("zoho deals page 1: 200 records")
        logging.getLogger("salesops").info("the run's own line")
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]

    run_id = probe()
    logging.getLogger("flows.sandbox.httpd").info("outside any run: not shipped, no warning")
    lines: set[tuple[str, str]] = set()
    for _ in range(30):  # the handler ships in batches, from a background thread
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        lines = {(log.name, log.message) for log in logs}
        if ("salesops", "the run's own line") in lines:
            break
        time.sleep(0.5)
    assert ("flows.crm.zoho", "zoho deals page 1: 200 records") in lines
    assert ("salesops", "the run's own line") in lines
    route_project_logs()  # idempotent: one handler per logger
    assert sum(isinstance(h, APILogHandler) for h in logging.getLogger("flows").handlers) == 1


def test_deploy_refuses_without_a_project_dir(tmp_path: Path) -> None:
    with pytest.raises(deploy.DeployConfigError, match="SALESOPS_PROJECT_DIR is not set"):
        deploy.check_deploy_environment({"SALESOPS_HOME": "/var/lib/salesops"})
    with pytest.raises(deploy.DeployConfigError, match=r"missing: prefect\.yaml"):
        deploy.check_deploy_environment({"SALESOPS_PROJECT_DIR": str(tmp_path), "SALESOPS_HOME": "/x"})
    with pytest.raises(deploy.DeployConfigError, match="SALESOPS_HOME"):
        deploy.check_deploy_environment({"SALESOPS_PROJECT_DIR": str(REPO), "SALESOPS_HOME": "data"})
    project, home = deploy.check_deploy_environment(
        {"SALESOPS_PROJECT_DIR": str(REPO), "SALESOPS_HOME": "/var/lib/salesops"}
    )
    assert project == REPO and home == Path("/var/lib/salesops")


def test_salesops_deploy_says_what_to_set(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from flows.cli.main import app

    result = CliRunner().invoke(app, ["deploy"], env={"SALESOPS_PROJECT_DIR": "", "SALESOPS_HOME": "/x"})
    assert result.exit_code == 2
    assert "SALESOPS_PROJECT_DIR is not set" in result.output


def test_sandbox_env_file_is_sourceable(tmp_path: Path) -> None:
    env = {"SALESOPS_HOME": str(tmp_path / "a home"), "SALESOPS_SMTP_PORT": "8825"}
    path = write_env_file(tmp_path / "sandbox.env", env)
    out = subprocess.run(
        [
            "bash",
            "-c",
            f'set -a; . {shlex.quote(str(path))}; set +a; echo "$SALESOPS_HOME|$SALESOPS_SMTP_PORT"',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"{tmp_path / 'a home'}|8825"


def test_failure_hints() -> None:
    assert failure_hint(
        RuntimeError("Timed out while attempting to connect to ephemeral Prefect API server.")
    ) == (EPHEMERAL_SERVER_HINT)
    assert failure_hint(
        StepFailed("ingest", "zoho", "zoho: not configured, set SALESOPS_ZOHO_CLIENT_ID")
    ) == (CRM_SETTINGS_HINT)
    assert failure_hint(ValueError("other")) is None
