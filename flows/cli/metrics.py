"""`salesops metrics ...`: the semantic layer's KPIs on the published warehouse.

Mounted by the main CLI as ``app.add_typer(metrics_cli.app, name="metrics")``. The metrics are those of
dbt_project/models/semantic/ (docs/semantic_layer.md), compiled by MetricFlow from the semantic manifest
the last nightly left in ``<SALESOPS_HOME>/dbt_target/`` and run read-only on the published file, so
this needs neither a dbt profile nor the dbt project's ``target/`` (which ``mf query`` does).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="The semantic layer's KPIs (won revenue, win rate, attainment, pace, ...) on the published marts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MetricsOpt = Annotated[
    str, typer.Option("--metrics", "-m", help="Comma-separated metric names, e.g. won_revenue,win_rate.")
]
GroupByOpt = Annotated[
    str,
    typer.Option(
        "--group-by",
        "-g",
        help="Comma-separated dimensions or entities, e.g. rep,metric_time__month or rep__team_name.",
    ),
]
WhereOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        help="MetricFlow filter (repeatable), e.g. "
        "\"{{ TimeDimension('metric_time', 'month') }} = '2026-11-01'\".",
    ),
]


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@app.command("query")
def query(
    metrics: MetricsOpt,
    group_by: GroupByOpt = "",
    where: WhereOpt = None,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL MetricFlow generates; run nothing.")
    ] = False,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write the rows to this CSV file.")] = None,
) -> None:
    """Compute metrics on the published warehouse and print them (or their SQL). Exit code 1 on an
    unknown metric, a missing semantic manifest or published warehouse."""
    from flows.config.settings import get_settings
    from flows.semantic.metrics import SemanticLayer, SemanticLayerError, manifest_path
    from flows.warehouse.publish import read_published

    settings = get_settings()
    if not settings.published_warehouse_path.is_file():
        typer.echo(
            f"no published warehouse at {settings.published_warehouse_path}: run the nightly first", err=True
        )
        raise typer.Exit(1)
    try:
        with read_published(settings) as conn:
            layer = SemanticLayer.for_connection(manifest_path(settings), conn)
            if sql:
                typer.echo(layer.sql(_names(metrics), _names(group_by), where or []))
                return
            result = layer.query(conn, _names(metrics), _names(group_by), where or [])
    except SemanticLayerError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    out = csv_path.open("w", newline="", encoding="utf-8") if csv_path else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(result.columns)
        writer.writerows([[row[c] for c in result.columns] for row in result.rows])
    finally:
        if csv_path:
            out.close()
