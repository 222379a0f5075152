"""`salesops validate`: run the data-quality gate on demand against the warehouse.

Mounted by the main CLI as ``app.add_typer(validate_cli.app, name="validate")``. Runs the suites
(all, one layer, or the ``--suite`` names), stores the results in ``ops.validation_results``,
quarantines offending raw rows like the nightly gate, builds the Data Docs under
``<SALESOPS_HOME>/gx/data_docs`` and prints the Markdown summary. Exit code 1 when a critical
check failed, 0 otherwise (warnings and quarantined rows are printed, not failures).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(help=__doc__, add_completion=False, pretty_exceptions_enable=False)


class Layer(StrEnum):
    all = "all"
    raw = "raw"
    marts = "marts"


class RowScope(StrEnum):
    all = "all"
    run = "run"


SuiteOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--suite", "-s", help="Suite to run (repeatable), e.g. raw_zoho_deals. Default: all of --layer."
    ),
]
LayerOpt = Annotated[Layer, typer.Option("--layer", help="Which layer's suites to run without --suite.")]
RowsOpt = Annotated[
    RowScope,
    typer.Option(
        "--rows",
        help="Row-level checks on every live row (all), or on the rows --run-id landed + quarantined (run).",
    ),
]
RunIdOpt = Annotated[str | None, typer.Option("--run-id", help="Run id to record the results under.")]
ListOpt = Annotated[bool, typer.Option("--list", help="List the suites and exit.")]


@app.callback(invoke_without_command=True)
def validate(
    suite: SuiteOpt = None,
    layer: LayerOpt = Layer.all,
    rows: RowsOpt = RowScope.all,
    run_id: RunIdOpt = None,
    list_suites: ListOpt = False,
) -> None:
    """Run the data-quality gate now and print its summary."""
    from flows.config.settings import get_settings
    from flows.quality.gate import run_checks
    from flows.quality.sources import suite_sources
    from flows.warehouse.database import Warehouse

    settings = get_settings()
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.connect() as conn:
        sources = suite_sources(conn)
        if list_suites:
            for name, source in sorted(sources.items()):
                typer.echo(f"{name}\t{source.layer}\t{source.table}")
            return
        unknown = [s for s in suite or [] if s not in sources]
        if unknown:
            typer.echo(
                f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(sorted(sources))}", err=True
            )
            raise typer.Exit(2)
        if rows is RowScope.run and not run_id:
            typer.echo("--rows run needs --run-id (the run whose landed rows to check)", err=True)
            raise typer.Exit(2)
        gate = run_checks(
            conn,
            settings,
            run_id=run_id or f"validate-{uuid.uuid4().hex[:12]}",
            suites=list(suite) if suite else None,
            layer=None if layer is Layer.all else layer.value,
            row_scope=rows.value,
        )
    typer.echo(gate.summary_markdown())
    if not gate.success:
        raise typer.Exit(1)
