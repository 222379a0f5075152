"""``salesops commissions``: period close, payroll export and the plan estimator."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from flows.commissions.estimate_view import render
from flows.commissions.estimator import InputError
from flows.commissions.estimator import estimate as run_estimate
from flows.commissions.hierarchy import HierarchyError
from flows.config.commission_plan import PlanError, load_plan_file
from flows.config.errors import ConfigError

app = typer.Typer(
    help="Commissions: close a period, export payroll, estimate a plan on given credits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PeriodOpt = Annotated[str, typer.Option("--period", help="The month, YYYY-MM.")]


def _period(value: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}", value or ""):
        raise typer.BadParameter(f"{value!r} is not a month YYYY-MM", param_hint="--period")
    year, month = map(int, value.split("-"))
    if not 1 <= month <= 12:
        raise typer.BadParameter(f"{value!r} is not a month YYYY-MM", param_hint="--period")
    return date(year, month, 1)


def _warehouse():
    from flows.config.settings import get_settings
    from flows.warehouse.database import Warehouse

    settings = get_settings()
    return settings, Warehouse(settings.warehouse_path).connect()


@app.command()
def close(
    period: PeriodOpt,
    closed_by: Annotated[str | None, typer.Option(help="Who approved the close (kept with it).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Also close a month that has not ended, or has no lines.")
    ] = False,
) -> None:
    """Snapshot the period's statement lines (as of the last run) into finance.closed_statement_lines.

    Closed lines never change; later recalculations post prior-period adjustments in the next
    open period. A month that has not ended or has no calculated line is refused without --force."""
    from flows.commissions.close import CloseError, close_period

    month = _period(period)
    _, connect = _warehouse()
    try:
        with connect as conn:
            count = close_period(conn, month, closed_by, force=force)
    except CloseError as exc:
        typer.echo(f"commissions close failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"closed {month:%Y-%m}: {count} statement lines snapshotted")


@app.command()
def estimate(
    plan: Annotated[Path, typer.Option("--plan", help="Plan file (YAML), the format of config/plans/.")],
    credits: Annotated[Path, typer.Option("--credits", help="Credited amounts, CSV.")],
    targets: Annotated[Path | None, typer.Option("--targets", help="Monthly targets per rep, CSV.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    output: Annotated[Path | None, typer.Option("--output", help="Write here instead of stdout.")] = None,
    fiscal_year_start_month: Annotated[
        int, typer.Option("--fiscal-year-start-month", min=1, max=12, help="Month yearly caps start in.")
    ] = 1,
    hierarchy: Annotated[
        Path | None,
        typer.Option("--hierarchy", help="Who reports to whom, CSV: roll-up credit to every level above."),
    ] = None,
    adjustments: Annotated[
        Path | None,
        typer.Option(
            "--adjustments", help="Manual adjustments, CSV: rep, period, amount, reason, approved_by."
        ),
    ] = None,
) -> None:
    """Lines and totals for given credits under a plan, with the nightly's engine; no CRM needed."""
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"{fmt!r} is not table, csv or json", param_hint="--format")
    try:
        book = load_plan_file(plan)
        result = run_estimate(
            book,
            credits,
            targets,
            fiscal_year_start_month=fiscal_year_start_month,
            hierarchy_csv=hierarchy,
            adjustments_csv=adjustments,
        )
    except (PlanError, InputError, HierarchyError, ConfigError) as exc:
        typer.echo(f"commissions estimate failed: {exc}", err=True)
        raise typer.Exit(1) from None
    text = render(result, fmt)
    if output is not None:
        # a CSV file gets a byte-order mark so Excel reads it as UTF-8 (Chinese names)
        output.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        typer.echo(f"wrote {len(result.lines)} lines to {output}")
    else:
        typer.echo(text, nl=False)
    if fmt == "csv" or (fmt == "table" and output is not None):  # JSON carries them; tables show them
        for w in result.warnings:
            typer.echo(f"warning: [{w.warning_code}] {w.message}", err=True)


@app.command()
def export(
    period: PeriodOpt,
    xlsx: Annotated[
        bool,
        typer.Option("--xlsx", hidden=True, help="Accepted for old scripts: the XLSX is always written."),
    ] = True,
    output_dir: Annotated[Path | None, typer.Option(help="Default: the reports directory.")] = None,
) -> None:
    """The period's payroll export, payroll_<YYYY-MM>.csv and .xlsx: one row per rep, a totals row
    (the same files the finance summary attaches)."""
    from flows.reports.payroll import export_period, period_status

    month = _period(period)
    settings, connect = _warehouse()
    with connect as conn:
        paths = export_period(conn, month, output_dir or settings.reports_dir, settings.reporting_currency)
        status = period_status(conn, month)
    for p in paths:
        typer.echo(f"wrote {p}")
    if status != "closed":
        typer.echo(f"{month:%Y-%m} is not closed: the export is provisional", err=True)
