"""`salesops report ...`: render reports without sending them.

    salesops report preview --kind manager|statement|finance [--run-date D] [--weekly] [--rep EMAIL]

Preview reads the **published** marts (``<home>/warehouse.duckdb``, read-only), so it never blocks
or waits for a running nightly; ``--from-work`` reads the pipeline's working file instead (only
when no run is going on). Every rendered report is written as HTML under ``<home>/reports/``
(prefix ``preview_``) and the paths are printed. Nothing is e-mailed and nothing is logged in
``ops.email_log``.

The lead mounts this in flows/cli/main.py: ``app.add_typer(report_cli.app, name="report")``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
app = typer.Typer(help="Render the e-mailed reports without sending them.", no_args_is_help=True)


@app.callback()
def _report() -> None:
    """Render the e-mailed reports without sending them."""


class Kind(StrEnum):
    manager = "manager"
    statement = "statement"
    finance = "finance"


@app.command("preview")
def preview(
    kind: Annotated[Kind, typer.Option("--kind", help="manager, statement or finance.")],
    run_date: Annotated[
        datetime | None,
        typer.Option(
            "--run-date",
            formats=["%Y-%m-%d"],
            help="Business date (manager: that day; statement/finance: the month before it). "
            "Default: today in the company time zone.",
        ),
    ] = None,
    weekly: Annotated[
        bool,
        typer.Option(
            "--weekly",
            help="Manager report: the weekly report (pipeline movement, next week's closes) of the last "
            "ISO week ended by the run date (the week the Monday send covers).",
        ),
    ] = False,
    rep: Annotated[
        str | None, typer.Option("--rep", help="Statement: only this rep (e-mail or rep id).")
    ] = None,
    from_work: Annotated[
        bool, typer.Option("--from-work", help="Read the working warehouse instead of the published one.")
    ] = False,
) -> None:
    """Render one kind of report from the marts, write it as HTML, and print where."""
    from flows.config.settings import get_settings
    from flows.pipeline.tasks import default_run_date
    from flows.reports.html_files import write_report_html

    settings = get_settings()
    day = run_date.date() if run_date else default_run_date(settings)
    path = settings.warehouse_path if from_work else settings.published_warehouse_path
    if not path.exists():
        console.print(f"[red]no warehouse at {path}[/]: run the nightly pipeline first (salesops demo).")
        raise typer.Exit(1)
    try:
        rendered = _render(kind, settings, path, day, weekly=weekly, rep=rep, from_work=from_work)
    except LookupError as exc:
        console.print(f"[red]cannot render {kind.value} report:[/] {exc}")
        raise typer.Exit(1) from None
    if not rendered:
        console.print(f"No {kind.value} report to render for {day} (no recipients or no data).")
        raise typer.Exit(1)
    for report in rendered:
        html = write_report_html(report, settings, prefix="preview_")
        written = [html]
        for name, data, _ in report.attachments:
            attachment = html.with_name(f"{html.stem}__{name}")
            attachment.write_bytes(data)
            written.append(attachment)
        console.print(
            f"{report.kind} [{report.language}] to {', '.join(report.recipients)}: {report.subject}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for p in written:
            console.print(f"  {Path(p)}", highlight=False, markup=False, soft_wrap=True)


def _render(kind: Kind, settings, path: Path, day, *, weekly: bool, rep: str | None, from_work: bool) -> list:
    """The reports of ``kind`` built from the warehouse at ``path``: the working file only under
    the run lock (``Warehouse.connect``), the published one read-only."""
    from flows.reports.finance import build_finance_summary
    from flows.reports.manager_report import build_manager_reports
    from flows.reports.model import previous_month
    from flows.reports.recipients import load_recipients
    from flows.reports.statements import build_commission_statements
    from flows.warehouse import duckdb_limits
    from flows.warehouse.database import Warehouse

    if from_work:
        opened = Warehouse(path, settings).connect("salesops report preview --from-work")
    else:
        opened = contextlib.closing(duckdb_limits.connect(path, settings, read_only=True))
    with opened as conn:
        if kind is Kind.manager:
            return build_manager_reports(conn, settings, run_date=day, weekly=weekly)
        month = previous_month(day)
        if kind is Kind.statement:
            return build_commission_statements(conn, settings, month=month, rep=rep)
        to = load_recipients(settings).distribution("finance") or ["finance@localhost"]
        return build_finance_summary(conn, settings, month=month, to=to)
