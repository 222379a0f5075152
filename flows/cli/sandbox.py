"""`salesops sandbox up`: the demo's sandbox CRMs and local SMTP outbox as long-running services,
with an env file that points a worker, a backfill or a deployed run at them.

It runs in the foreground until Ctrl-C (or SIGTERM), like ``sandbox serve``; run it in its own
terminal, under ``nohup``/systemd, or with ``&`` to keep it in the background. Fixed ports by
default (CRMs on 8800-8802, SMTP on 8825), so the env file it writes stays true across restarts:

    salesops sandbox up &                                # writes <home>/sandbox.env
    set -a; . data/sandbox.env; set +a                   # SALESOPS_* for this shell
    salesops backfill --from 2026-11-01 --to 2026-11-07  # or: prefect worker start ...
"""

from __future__ import annotations

import shlex
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flows.cli.demo import sandbox_services
from flows.config.settings import get_settings
from flows.sandbox.cluster import build_company

console = Console()
ENV_FILE = "sandbox.env"


def write_env_file(path: Path, env: dict[str, str]) -> Path:
    """``KEY=value`` lines (shell-quoted) that ``set -a; . FILE`` and ``--env-file`` both read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# SALESOPS_* settings of the running `salesops sandbox up` (demo credentials only)."]
    lines += [f"{key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (a supervisor stopping the service)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def sandbox_up(
    home: Annotated[
        Path, typer.Option(envvar="SALESOPS_HOME", help="Where runs write; the env file too.")
    ] = Path("data"),
    port: Annotated[
        int, typer.Option(help="Zoho accounts on PORT, Zoho API on PORT+1, Fxiaoke on PORT+2.")
    ] = 8800,
    smtp_port: Annotated[
        int, typer.Option(help="The local SMTP server (writes <home>/outbox/*.eml).")
    ] = 8825,
    dataset: Annotated[
        str, typer.Option(help="synthetic (seeded generator) or maven (real data).")
    ] = "synthetic",
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    reps: Annotated[int, typer.Option(help="Number of sales reps the generator creates.")] = 24,
    deals: Annotated[int, typer.Option(help="Number of deals the generator creates.")] = 1200,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Generator's 'today' (default: today).")
    ] = None,
) -> None:
    """Start the sandbox CRMs and the local SMTP outbox until Ctrl-C; write <home>/sandbox.env with
    the SALESOPS_* settings that point a worker, a backfill or a deployed run at them."""
    if dataset not in ("synthetic", "maven"):
        raise typer.BadParameter(
            f"unknown dataset {dataset!r}: use synthetic or maven", param_hint="--dataset"
        )
    company = build_company(
        dataset,  # type: ignore[arg-type]
        seed=seed,
        reps=reps,
        deals=deals,
        as_of=as_of.date() if as_of else None,
    )
    # the Maven data set's example targets and plan, as the demo uses them
    config_dir = get_settings().project_dir / "config" / "maven" if dataset == "maven" else None
    with sandbox_services(home, company, config_dir=config_dir, port=port, smtp_port=smtp_port) as (
        cluster,
        env,
    ):
        env_file = write_env_file(Path(env["SALESOPS_HOME"]) / ENV_FILE, env)
        console.print(cluster.describe(), highlight=False)
        console.print(
            f"Local SMTP outbox: 127.0.0.1:{env['SALESOPS_SMTP_PORT']} -> {env['SALESOPS_HOME']}/outbox"
        )
        console.print(f"\nSettings written to {env_file}; use them with:\n  set -a; . {env_file}; set +a")
        console.print("Serving; Ctrl-C to stop.", highlight=False)
        _wait_for_stop()
    console.print("stopped")
