"""The `salesops` command: help texts, the sandbox server as a process, operator ingest."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import prefect.main  # noqa: F401  Prefect's logging set up now: inside a CliRunner call it would bind to a stream that closes
import pytest
import requests
from ports_support import free_port_block
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config.settings import Settings, patched_environ
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.generator import generate_company

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["demo", "run", "sandbox"]),
        (["demo", "--help"], ["--dataset", "--reps", "--deals", "--resend", "--run-date"]),
        (["run", "--help"], ["nightly", "ingest"]),
        (["run", "nightly", "--help"], ["--run-date", "--full-refresh", "--resend", "--resend-undecided"]),
        (["backfill", "--help"], ["--from", "--to", "--no-email", "--resend-undecided"]),
        (["run", "ingest", "--help"], ["--source", "--objects", "--full-refresh", "--since"]),
        (["sandbox", "serve", "--help"], ["--port", "--dataset", "/__admin/faults", "/__admin/simulate"]),
    ],
)
def test_help_texts_name_every_option(args: list[str], expected: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"] if args else ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for word in expected:
        assert word in result.output


def test_unknown_dataset_is_a_clear_usage_error() -> None:
    result = runner.invoke(app, ["demo", "--dataset", "nope"])
    assert result.exit_code != 0
    assert "unknown dataset 'nope'" in result.output


def test_sandbox_serve_runs_as_a_real_http_server_and_prints_credentials() -> None:
    port = free_port_block()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli.main",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--reps",
            "8",
            "--deals",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"COLUMNS": "200"},
        # Ctrl-C as in a terminal: a pytest-xdist worker ignores SIGINT, and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        output = ""
        deadline = time.monotonic() + 60
        while "Serving" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            output += line
        assert "Serving" in output, output
        for secret in (
            "1000.SALESOPSDEMO",
            "salesops-demo-secret",
            "1000.demo-refresh-token",
            "FSAID_SALESOPSDEMO",
            "salesops-demo-app-secret",
            "salesops-demo-permanent-code",
        ):
            assert secret in output
        token = requests.post(
            f"http://127.0.0.1:{port}/oauth/v2/token",
            params={
                "grant_type": "refresh_token",
                "client_id": "1000.SALESOPSDEMO",
                "client_secret": "salesops-demo-secret",
                "refresh_token": "1000.demo-refresh-token",
            },
            timeout=10,
        ).json()
        assert token["api_domain"] == f"http://127.0.0.1:{port + 1}"
        deals = requests.get(
            f"{token['api_domain']}/crm/v8/Deals",
            params={"fields": "Deal_Name,Amount"},
            headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"},
            timeout=10,
        )
        assert deals.status_code == 200 and deals.json()["data"]
        stats = requests.get(f"{token['api_domain']}/__admin/stats", timeout=10).json()
        assert stats
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


@contextlib.contextmanager
def _sandbox_env(company, home: Path) -> Iterator[None]:
    """The sandbox CRMs serving ``company``, and SALESOPS_* pointing at them and at ``home``."""
    with (
        SandboxCluster(company) as cluster,
        patched_environ(cluster.settings_env() | {"SALESOPS_HOME": str(home)}),
    ):
        yield


def _ingest_flow_runs() -> list:
    """The 'salesops-ingest' flow runs the harness's Prefect API knows, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["salesops-ingest"])),
            sort=FlowRunSort.START_TIME_DESC,
        )


def _artifacts_of(flow_run_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingest_lands_the_objects_asked_for(tmp_path: Path) -> None:
    company = generate_company(seed=5, reps=8, deals=80, as_of=date(2026, 11, 28))
    with _sandbox_env(company, tmp_path):
        result = runner.invoke(
            app, ["run", "ingest", "--source", "zoho", "--objects", "users,deals"], terminal_width=200
        )
        assert result.exit_code == 0, result.output
        again = runner.invoke(
            app, ["run", "ingest", "--source", "zoho", "--objects", "deals"], terminal_width=200
        )
        assert again.exit_code == 0, again.output
    zoho_deals = len(company.for_crm("zoho").deals)
    with duckdb.connect(str(Settings(home=tmp_path).warehouse_path)) as conn:
        tables = {
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        assert tables == {"zoho_users", "zoho_deals"}
        assert conn.execute("select count(*) from raw.zoho_deals").fetchone()[0] == zoho_deals
        runs = conn.execute(
            "select object, rows_inserted from ops.ingest_runs order by started_at"
        ).fetchall()
    assert runs == [("users", len(company.for_crm("zoho").users)), ("deals", zoho_deals), ("deals", 0)]
    assert re.search(r"deals\s+│\s+\d+", result.output)


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingest_is_a_prefect_flow_run_with_the_nightly_table_artifact(tmp_path: Path) -> None:
    company = generate_company(seed=5, reps=8, deals=60, as_of=date(2026, 11, 28))
    with _sandbox_env(company, tmp_path):
        before = {r.id for r in _ingest_flow_runs()}
        result = runner.invoke(
            app,
            ["run", "ingest", "--source", "fxiaoke", "--objects", "employees,opportunities"],
            terminal_width=200,
        )
    assert result.exit_code == 0, result.output
    assert re.search(r"opportunities\s+│\s+\d+", result.output), "the CLI still prints its summary"
    (flow_run,) = [r for r in _ingest_flow_runs() if r.id not in before]
    assert flow_run.state.is_completed()
    assert flow_run.parameters["source"] == "fxiaoke"
    (artifact,) = [a for a in _artifacts_of(flow_run.id) if a.key == "ingest-runs"]
    assert artifact.type == "table"
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [row["object"] for row in table] == ["employees", "opportunities"]
    with duckdb.connect(str(Settings(home=tmp_path).warehouse_path)) as conn:
        landed = dict(
            conn.execute(
                "select object, rows_inserted from ops.ingest_runs where run_id = ?", [str(flow_run.id)]
            ).fetchall()
        )
    assert landed == {row["object"]: row["rows_inserted"] for row in table}
    assert landed["opportunities"] == len(company.for_crm("fxiaoke").deals)
    for row in table:
        assert {"api_calls", "rows_received", "rows_updated", "rows_deleted", "retries"} <= set(row)
        assert "duration_seconds" in row


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingest_since_rereads_from_that_date(tmp_path: Path) -> None:
    """--since becomes each connector's own cursor form (Zoho: ISO instant; Fxiaoke: epoch ms)."""
    company = generate_company(seed=5, reps=8, deals=60, as_of=date(2026, 11, 28))
    with _sandbox_env(company, tmp_path):
        for source, obj in (("zoho", "deals"), ("fxiaoke", "opportunities")):
            args = ["run", "ingest", "--source", source, "--objects", obj]
            assert runner.invoke(app, args, terminal_width=200).exit_code == 0
            again = runner.invoke(app, [*args, "--since", "2000-01-01"], terminal_width=200)
            assert again.exit_code == 0, again.output
    with duckdb.connect(str(Settings(home=tmp_path).warehouse_path)) as conn:
        runs = conn.execute(
            "select source, rows_received, rows_inserted from ops.ingest_runs order by started_at"
        ).fetchall()
    zoho, fxiaoke = len(company.for_crm("zoho").deals), len(company.for_crm("fxiaoke").deals)
    assert runs == [
        ("zoho", zoho, zoho),
        ("zoho", zoho, 0),
        ("fxiaoke", fxiaoke, fxiaoke),
        ("fxiaoke", fxiaoke, 0),
    ]


@pytest.mark.usefixtures("prefect_harness")
def test_run_ingest_failure_prints_one_clear_line(tmp_path: Path) -> None:
    env = {
        "SALESOPS_HOME": str(tmp_path),
        "SALESOPS_ZOHO_ACCOUNTS_URL": "http://127.0.0.1:9",
        "SALESOPS_ZOHO_CLIENT_ID": "x",
        "SALESOPS_ZOHO_CLIENT_SECRET": "very-secret-value",
        "SALESOPS_ZOHO_REFRESH_TOKEN": "y",
        "SALESOPS_HTTP_MAX_RETRIES": "1",
        "SALESOPS_HTTP_BACKOFF_BASE_SECONDS": "0.01",
    }
    with patched_environ(env):
        result = runner.invoke(
            app, ["run", "ingest", "--source", "zoho", "--objects", "users"], terminal_width=200
        )
    assert result.exit_code == 1
    first = result.output.strip().splitlines()[0]
    assert first.startswith("FAILED") and "zoho.users" in first
    assert "very-secret-value" not in result.output
    latest = _ingest_flow_runs()[0]
    assert latest.state.is_failed() and latest.parameters["objects"] == ["users"]
    (artifact,) = [a for a in _artifacts_of(latest.id) if a.key == "ingest-runs"]
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [(r["object"], r["status"]) for r in table] == [("users", "failed")]
    assert "very-secret-value" not in json.dumps(table)
