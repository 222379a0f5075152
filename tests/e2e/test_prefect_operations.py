"""Done when (issue 15): the deployments of prefect.yaml run on a real Prefect server and worker.

A Prefect server (its own PREFECT_HOME, a free loopback port), ``salesops sandbox up`` (the sandbox
CRMs and the SMTP outbox, and the env file a worker uses), ``salesops deploy`` (work pool,
deployments, the alert automation), a process worker with the sandbox's SALESOPS_* settings. Then:
the nightly deployment runs under the name ``nightly-<run date>`` with the project's own log lines
and artifacts in Prefect; a run failing on a wrong CRM credential alerts from inside the run, and
the automation's alert run dedupes against it; ``salesops deploy`` creates the global concurrency
limit ``salesops-warehouse`` and a deployed writer waits for it, visibly (issue 13); a crashed run
(its process dies before the flow starts, so nothing inside it alerts) gets its alert e-mail from
the automation alone.
"""

from __future__ import annotations

import email
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
import requests
from ports_support import free_port_block

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = "2026-11-28"
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]


def _wait(what: str, check, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(1)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout:.0f}s\n{tail}")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=env, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _env_file(path: Path) -> dict[str, str]:
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    return {key: shlex.split(value)[0] for key, _, value in (ln.partition("=") for ln in lines)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[dict]:
    """Prefect server, sandbox, deployments and a worker; yields the environment and the home."""
    base = tmp_path_factory.mktemp("ops")
    home, logs = base / "home", base / "logs"
    logs.mkdir()
    port = free_port_block(1)
    api = f"http://127.0.0.1:{port}/api"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SALESOPS_"))}
    prefect_env = clean | {
        "PREFECT_HOME": str(base / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "200",
    }
    procs: list[subprocess.Popen] = []
    try:
        server_log = logs / "server.log"
        server = _start(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            prefect_env | {"PREFECT_SERVER_API_HOST": "127.0.0.1"},
            server_log,
        )
        procs.append(server)

        def healthy() -> bool:
            try:
                return requests.get(f"{api}/health", timeout=2).ok
            except requests.RequestException:
                return False

        _wait("the Prefect server", healthy, 180, server, server_log)

        sandbox_log = logs / "sandbox.log"
        crm_port = free_port_block(4)  # Zoho accounts, Zoho API, Fxiaoke, then SMTP
        up = ["sandbox", "up", "--home", str(home), "--port", str(crm_port), "--smtp-port", str(crm_port + 3)]
        sandbox = _start(
            [sys.executable, "-m", "flows.cli.main", *up, "--deals", "240", "--as-of", RUN_DATE],
            prefect_env,
            sandbox_log,
        )
        procs.append(sandbox)
        env_file = home / "sandbox.env"
        _wait("salesops sandbox up", env_file.exists, 120, sandbox, sandbox_log)
        env = (
            prefect_env
            | _env_file(env_file)
            | {"SALESOPS_PROJECT_DIR": str(REPO), "PREFECT_WORKER_QUERY_SECONDS": "2"}
        )
        deploy = subprocess.run(
            [sys.executable, "-m", "flows.cli.main", "deploy"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        worker_log = logs / "worker.log"
        procs.append(
            _start(
                [sys.executable, "-m", "prefect", "worker", "start", "--pool", "salesops-process"],
                env,
                worker_log,
            )
        )
        yield {"env": env, "home": home, "api": api, "logs": logs}
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _client(stack):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    class _Client:
        def __enter__(self):
            self._settings = temporary_settings({PREFECT_API_URL: stack["api"]})
            self._settings.__enter__()
            self._client = get_client(sync_client=True)
            return self._client.__enter__()

        def __exit__(self, *exc):
            self._client.__exit__(*exc)
            self._settings.__exit__(*exc)

    return _Client()


def _read_run(stack, run_id):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with _client(stack) as client:
        (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    return run


def _run_logs(stack, run_id) -> list:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with _client(stack) as client:
        logs, page = [], None
        while page is None or len(page) == 200:  # the API's page size limit
            page = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                limit=200,
                offset=len(logs),
            )
            logs += page
    return logs


def _run(
    stack,
    parameters: dict,
    job_variables: dict | None = None,
    timeout: float = 600,
    deployment_name: str = "salesops-nightly/nightly",
):
    """Run a deployment (the nightly by default) through the worker and wait for its end."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with _client(stack) as client:
        deployment = client.read_deployment_by_name(deployment_name)
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters=parameters, job_variables=job_variables
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (run,) = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            if run.state and run.state.is_final():
                return run
            time.sleep(2)
    worker = (stack["logs"] / "worker.log").read_text()[-4000:]
    raise AssertionError(f"flow run {run.name} did not end within {timeout}s: {run.state}\n{worker}")


def _alert_runs(stack, failed_run) -> list:
    """The automation's alert runs for ``failed_run``, once they have ended."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with _client(stack) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                name=FlowRunFilterName(any_=[f"alert-prefect.flow-run.{failed_run.id}"])
            )
        )
    return [r for r in runs if r.state and r.state.is_final()]


def _outbox(home: Path, kind: str) -> list[email.message.EmailMessage]:
    messages = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted((home / "outbox").glob("*.eml"))
    ]
    return [m for m in messages if str(m["X-Salesops-Kind"] or "") == kind]


def test_nightly_deployment_runs_named_by_date_with_project_logs_and_artifacts(stack) -> None:
    run = _run(stack, {"run_date": RUN_DATE})
    assert run.state.is_completed(), run.state
    assert run.name == f"nightly-{RUN_DATE}"

    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    with _client(stack) as client:
        logs, page = [], None
        while page is None or len(page) == 200:  # the API's page size limit
            page = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
                limit=200,
                offset=len(logs),
            )
            logs += page
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
    project_lines = [log for log in logs if log.name == "salesops" or log.name.startswith("flows.")]
    assert project_lines, sorted({log.name for log in logs})
    assert any(log.name.startswith("flows.crm") for log in project_lines), sorted({log.name for log in logs})
    assert {"ingest-runs", "nightly-summary", "dbt-nodes", "published-marts"} <= {a.key for a in artifacts}
    assert _outbox(stack["home"], "manager_daily"), "the manager reports went out through the sandbox SMTP"


def test_deploy_creates_the_warehouse_limit_and_a_deployed_writer_waits_for_it_visibly(stack) -> None:
    """Issue 13 item 5: deployed writers of the work warehouse share one Prefect global concurrency limit."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.cli.deploy import ensure_warehouse_limit
    from flows.pipeline.warehouse_limit import WAREHOUSE_LIMIT

    with _client(stack) as client:
        limit = client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
        assert (limit.limit, limit.active, limit.active_slots) == (1, True, 0)
        # another writer holds the slot, as a running nightly does
        lease = client.increment_concurrency_slots_with_lease(
            names=[WAREHOUSE_LIMIT], slots=1, mode="concurrency", lease_duration=300
        ).json()["lease_id"]
    weekly = "salesops-weekly-manager-report/weekly-manager-report"
    before = len(_outbox(stack["home"], "manager_weekly"))
    with ThreadPoolExecutor(1) as pool:
        ended = pool.submit(_run, stack, {"run_date": RUN_DATE}, None, 600, weekly)

        def waiting() -> list:
            run_id = _weekly_run_id(stack)
            logs = _run_logs(stack, run_id) if run_id else []
            return [log for log in logs if WAREHOUSE_LIMIT in log.message]

        (line,) = _wait("the weekly run's waiting line", waiting, 300)
        assert "waits for the Prefect global concurrency limit" in line.message
        time.sleep(5)  # still waiting: nothing written, the slot still the other writer's
        run = _read_run(stack, line.flow_run_id)
        assert run.state.is_running(), run.state
        assert len(_outbox(stack["home"], "manager_weekly")) == before
        with _client(stack) as client:
            assert client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT).active_slots == 1
            released_at = time.time()
            client.release_concurrency_slots_with_lease(lease)
        run = ended.result()
    assert run.state.is_completed(), run.state
    held = [log for log in _run_logs(stack, run.id) if "holds the Prefect global concurrency" in log.message]
    assert held and held[0].timestamp.timestamp() >= released_at - 1  # it ran after the other writer
    assert len(_outbox(stack["home"], "manager_weekly")) > before
    with _client(stack):  # idempotent: a second deploy finds the limit and keeps it at one slot
        assert ensure_warehouse_limit() is False
    with _client(stack) as client:
        limit = client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
    assert (limit.limit, limit.active_slots) == (1, 0)


def _weekly_run_id(stack):
    """The id of the latest weekly-manager-report run (None before it exists)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with _client(stack) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="weekly-manager-report-")),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
    return runs[0].id if runs else None


def test_failed_run_alerts_from_inside_and_the_automation_does_not_alert_twice(stack) -> None:
    broken = {"env": {"SALESOPS_ZOHO_CLIENT_SECRET": "wrong-secret"}}
    run = _run(stack, {"run_date": "2026-11-29"}, job_variables=broken)
    assert run.state.is_failed(), run.state
    assert run.name == "nightly-2026-11-29"
    (alert_run,) = _wait("the automation's alert run", lambda: _alert_runs(stack, run), 180)
    assert alert_run.state.is_completed(), alert_run.state
    alerts = [m for m in _outbox(stack["home"], "run_failed") if str(run.id) in str(m["Subject"])]
    assert len(alerts) == 1, [m["Subject"] for m in alerts]  # the flow's own; the automation's deduped
    assert "zoho" in alerts[0].get_body(("plain",)).get_content()
    assert alerts[0]["To"] == "data-engineers@salesops-demo.com"


def test_crashed_run_is_alerted_by_the_automation(stack) -> None:
    # The flow-run process dies before the flow starts: nothing inside the run can alert.
    crash = {"command": f"{sys.executable} -c 'import sys; sys.exit(3)'"}
    run = _run(stack, {"run_date": "2026-11-30"}, job_variables=crash)
    assert run.state.is_crashed(), run.state
    (alert_run,) = _wait("the automation's alert run", lambda: _alert_runs(stack, run), 180)
    assert alert_run.state.is_completed(), alert_run.state

    def alerted() -> list:
        return [m for m in _outbox(stack["home"], "run_failed") if str(run.id) in str(m["Subject"])]

    (alert,) = _wait("the crash alert e-mail", alerted, 30)
    assert "2026-11-30" in str(alert["Subject"])
    assert "Crashed" in alert.get_body(("plain",)).get_content()
