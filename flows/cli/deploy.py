"""`salesops deploy`: register the Prefect deployments of ``prefect.yaml``, after checking what a
deployed run needs and cannot check for itself until it fails.

A deployment bakes ``SALESOPS_PROJECT_DIR`` (the checkout a worker runs the flows from) and
``SALESOPS_HOME`` into its job variables. Without them ``prefect deploy`` succeeds and every run
fails later, on the worker, with a bare ``FileNotFoundError``; this command refuses at once instead,
saying what to set. Then it creates the ``process`` work pool when missing and runs
``prefect deploy --all`` in the project directory. It also creates (or resets to 1) the Prefect global
concurrency limit ``salesops-warehouse`` that every deployed writer of the work warehouse takes
(:mod:`flows.pipeline.warehouse_limit`), so a run waiting for another shows so in Prefect. The
worker itself needs the CRM and SMTP ``SALESOPS_*`` settings in its environment (README.md,
"Scheduling with Prefect").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from flows.pipeline.warehouse_limit import WAREHOUSE_LIMIT, WAREHOUSE_LIMIT_SLOTS

console = Console()
WORK_POOL = "salesops-process"


class DeployConfigError(ValueError):
    """What is missing for a deployment, and what to set."""


def check_deploy_environment(environ: dict[str, str] | None = None) -> tuple[Path, Path]:
    """The project directory and home a deployment will use; DeployConfigError saying what to set."""
    env = os.environ if environ is None else environ
    raw = env.get("SALESOPS_PROJECT_DIR", "").strip()
    if not raw:
        raise DeployConfigError(
            "SALESOPS_PROJECT_DIR is not set: set it to the salesops checkout the worker runs the flows "
            "from (the directory holding prefect.yaml, dbt_project/ and config/), e.g. "
            "`export SALESOPS_PROJECT_DIR=$PWD`"
        )
    project = Path(raw).expanduser()
    missing = [p for p in ("prefect.yaml", "dbt_project", "config", "flows") if not (project / p).exists()]
    if not project.is_absolute() or missing:
        raise DeployConfigError(
            f"SALESOPS_PROJECT_DIR={raw} is not an absolute path to a salesops checkout"
            + (f" (missing: {', '.join(missing)})" if missing else "")
        )
    home = env.get("SALESOPS_HOME", "").strip()
    if not home or not Path(home).expanduser().is_absolute():
        raise DeployConfigError(
            f"SALESOPS_HOME={home or '(unset)'}: set it to the absolute directory deployed runs write "
            "(warehouse, reports, logs), e.g. `export SALESOPS_HOME=/var/lib/salesops`"
        )
    return project.resolve(), Path(home).expanduser()


def ensure_work_pool(name: str = WORK_POOL) -> bool:
    """Create the ``process`` work pool the deployments use when it does not exist; True if created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return True


def ensure_warehouse_limit() -> bool:
    """Create the global concurrency limit ``salesops-warehouse`` (1 slot) when missing, or set it
    back to 1 slot when someone changed it; True if created. Safe to run on every deploy."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT)
            created = False
        except ObjectNotFound:
            created = True
        client.upsert_global_concurrency_limit_by_name(WAREHOUSE_LIMIT, WAREHOUSE_LIMIT_SLOTS)
    return created


def deployment_names(project: Path) -> list[str]:
    return [d["name"] for d in yaml.safe_load((project / "prefect.yaml").read_text())["deployments"]]


def deploy_command(
    name: Annotated[
        list[str] | None, typer.Option("--name", help="Deploy only this deployment (repeatable).")
    ] = None,
) -> None:
    """Check SALESOPS_PROJECT_DIR and SALESOPS_HOME, create the work pool and the global concurrency
    limit salesops-warehouse, then `prefect deploy` the deployments of prefect.yaml (all by default)
    with their schedules and alert automations."""
    try:
        project, home = check_deploy_environment()
    except DeployConfigError as exc:
        console.print(f"[bold red]Cannot deploy:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if ensure_work_pool():
        console.print(f"Created the work pool {WORK_POOL} (type process).")
    if ensure_warehouse_limit():
        console.print(
            f"Created the global concurrency limit {WAREHOUSE_LIMIT} ({WAREHOUSE_LIMIT_SLOTS} slot): "
            "one deployed writer of the work warehouse at a time."
        )
    which = [a for n in name for a in ("--name", n)] if name else ["--all"]
    console.print(f"Deploying {', '.join(name or deployment_names(project))} from {project} (home {home})")
    command = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", *which]
    done = subprocess.run(command, cwd=project, check=False)
    if done.returncode:
        raise typer.Exit(done.returncode)
    console.print(
        f"Now start a worker with the SALESOPS_* settings of your CRMs and SMTP in its environment:\n"
        f"  prefect worker start --pool {WORK_POOL}",
        highlight=False,
    )
