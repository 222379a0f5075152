"""`salesops targets`: lock approved targets, show their history, check the files against the locks.

    salesops targets lock FY2026 --by "Ana (Sales Ops)"   lock the loaded targets of a period
    salesops targets history [--period FY2026]            locks and recorded changes, oldest first
    salesops targets check                                validate config/ against the locks (no load)

The warehouse is the working warehouse of SALESOPS_HOME (override with --warehouse); the
configuration directory is the project's config/ (override with --config-dir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from flows.config.errors import ConfigError
from flows.config.settings import get_settings
from flows.targets import commands
from flows.targets.commands import TargetsCommandError

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(width=160)

WarehouseOpt = Annotated[
    Path | None,
    typer.Option("--warehouse", help="DuckDB file (default: the working warehouse of SALESOPS_HOME)."),
]
ConfigDirOpt = Annotated[
    Path | None,
    typer.Option("--config-dir", help="Configuration directory (default: the project's config/)."),
]


def _warehouse(path: Path | None) -> Path:
    return path if path is not None else get_settings().warehouse_path


def _config_dir(path: Path | None) -> Path:
    return path if path is not None else get_settings().config_path


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


@app.command()
def lock(
    period: Annotated[
        str, typer.Argument(help="FY2026, FY2026-Q3 or 2026-10: the targets inside it are locked.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who approved the targets (recorded).")],
    warehouse: WarehouseOpt = None,
) -> None:
    """Lock the targets loaded in the warehouse for PERIOD (load the config first: nightly run)."""
    # the pipeline's working warehouse: hold the run lock like a run does
    run_lock_settings = get_settings() if warehouse is None else None
    try:
        result = commands.lock(period, by, _warehouse(warehouse), run_lock_settings=run_lock_settings)
    except (ConfigError, TargetsCommandError) as exc:
        _fail(str(exc))
    console.print(
        f"lock {result.lock_id}: {result.targets_locked} target(s) of {result.period} locked by {by.strip()}"
        + (f" ({result.already_locked} were locked before)" if result.already_locked else ""),
        highlight=False,
    )


@app.command("history")
def history_cmd(
    period: Annotated[str | None, typer.Option("--period", help="Only this lock / target period.")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Show locks and recorded changes to locked targets (who, when, why), oldest first."""
    try:
        events = commands.history_of(_warehouse(warehouse), period)
    except TargetsCommandError as exc:
        _fail(str(exc))
    if not events:
        console.print("no locks or changes recorded" + (f" for {period}" if period else ""))
        return
    table = Table("when (UTC)", "event", "period", "target", "old", "new", "who", "why")
    for e in events:
        table.add_row(
            f"{e['when']:%Y-%m-%d %H:%M}",
            e["event"],
            e["period"],
            e["target"],
            "" if e["old"] is None else str(e["old"]),
            "" if e["new"] is None else str(e["new"]),
            e["who"],
            e["reason"],
        )
    console.print(table)


@app.command()
def check(config_dir: ConfigDirOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Validate the config files and check them against the locks, without loading anything."""
    try:
        result = commands.check(_config_dir(config_dir), _warehouse(warehouse))
    except (ConfigError, TargetsCommandError) as exc:
        _fail(str(exc))
    console.print(
        f"ok: {result.targets} target(s), {result.locked} locked, {result.pending} change record(s) "
        "to record on the next load",
        highlight=False,
    )
