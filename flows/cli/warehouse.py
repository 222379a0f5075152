"""`salesops warehouse ...`: other homes for the marts than the pipeline's DuckDB file.

Mounted by the main CLI as ``app.add_typer(warehouse_cli.app, name="warehouse")``.

``salesops warehouse postgres`` copies the landing layer dbt reads (raw.*, config.*,
ops.quarantine, the commission ledger finance.*) from the working DuckDB warehouse
(``<SALESOPS_HOME>/work/warehouse.duckdb``) into the PostgreSQL database of ``SALESOPS_PG_*``, in
one transaction that replaces the previous copy, then runs ``dbt build --target pg`` there.
``salesops warehouse spark`` writes the same tables as Parquet and runs ``dbt build --target spark``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated

import typer

app = typer.Typer(
    help="Build the marts elsewhere than the pipeline's DuckDB file (PostgreSQL, Apache Spark).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SelectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--select",
        "-s",
        help="dbt selection for the build (repeatable), e.g. marts.sales or +fct_deals. Default: everything.",
    ),
]
RunDateOpt = Annotated[
    datetime | None,
    typer.Option(
        "--run-date",
        formats=["%Y-%m-%d"],
        help="Business date the marts are built for (default: today in SALESOPS_TIMEZONE). Use the "
        "date of the DuckDB run to get the same marts.",
    ),
]
CopyOnlyOpt = Annotated[bool, typer.Option("--copy-only", help="Copy the landing layer; do not run dbt.")]
SkipCopyOpt = Annotated[
    bool, typer.Option("--skip-copy", help="Run dbt on the copy already there; do not copy.")
]


@app.command("postgres")
def postgres(
    select: SelectOpt = None,
    run_date: RunDateOpt = None,
    copy_only: CopyOnlyOpt = False,
    skip_copy: SkipCopyOpt = False,
) -> None:
    """Copy raw.*, config.*, ops.quarantine and finance.* from the working DuckDB warehouse into the
    PostgreSQL database of SALESOPS_PG_HOST/PORT/USER/PASSWORD/DATABASE (one transaction, replacing
    the previous copy), then run `dbt build --target pg` there. Exit code 1 when the copy or dbt fails."""
    from flows.config.settings import get_settings
    from flows.pipeline.tasks import default_run_date
    from flows.warehouse import postgres as pg

    if copy_only and skip_copy:
        raise typer.BadParameter("--copy-only and --skip-copy exclude each other")
    settings = get_settings()
    where = f"postgresql://{settings.pg_user}@{settings.pg_host}:{settings.pg_port}/{settings.pg_database}"
    try:
        if not skip_copy:
            copied = pg.copy_warehouse(settings)
            typer.echo(
                f"copied {copied.rows:,} rows in {len(copied.tables)} tables from {settings.warehouse_path} "
                f"to {where}"
            )
            for name in copied.dropped:
                typer.echo(f"  dropped {name} (no longer in the DuckDB warehouse)")
        if copy_only:
            return
        day = run_date.date() if run_date else default_run_date(settings)
        _, result = pg.build_on_postgres(
            settings, run_date=day, select=select or (), copy=False, raise_on_failure=False
        )
    except Exception as exc:
        typer.echo(f"FAILED salesops warehouse postgres: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    counts = Counter(n.status for n in result.nodes)
    summary = ", ".join(f"{status}={count}" for status, count in sorted(counts.items()))
    typer.echo(f"dbt build --target pg for {day.isoformat()} on {where}: {summary or 'nothing selected'}")
    if not result.success:
        typer.echo(f"FAILED {result.describe_failures() or 'dbt build failed'}", err=True)
        raise typer.Exit(1)


@app.command("spark")
def spark(
    select: SelectOpt = None,
    run_date: RunDateOpt = None,
    copy_only: CopyOnlyOpt = False,
    skip_copy: SkipCopyOpt = False,
) -> None:
    """Write raw.*, config.*, ops.quarantine and finance.* from the working DuckDB warehouse as Parquet
    (SALESOPS_SPARK_LANDING, default <SALESOPS_HOME>/spark/landing), register them as Spark tables, then
    run `dbt build --target spark`: in this process (SALESOPS_SPARK_METHOD=session, local Spark) or on a
    cluster (thrift, http: SALESOPS_SPARK_HOST/PORT/TOKEN/CLUSTER). Exit code 1 when the copy or dbt fails."""
    from flows.config.settings import get_settings
    from flows.pipeline.tasks import default_run_date
    from flows.warehouse import spark as sp

    if copy_only and skip_copy:
        raise typer.BadParameter("--copy-only and --skip-copy exclude each other")
    settings = get_settings()
    place = sp.SparkPlace.of(settings)
    day = run_date.date() if run_date else default_run_date(settings)
    try:
        if not skip_copy:
            copied = sp.copy_warehouse(settings)
            typer.echo(
                f"wrote {copied.rows:,} rows in {len(copied.tables)} tables from {settings.warehouse_path} "
                f"as Parquet under {place.landing}"
            )
            for name in copied.dropped:
                typer.echo(f"  removed {name} (no longer in the DuckDB warehouse)")
            if sp.spark_method() == "session":
                sp.local_session(settings)
            sp.register_landing(settings, copied, run_date=day)
        if copy_only:
            return
        _, result = sp.build_on_spark(
            settings, run_date=day, select=select or (), copy=False, raise_on_failure=False
        )
    except Exception as exc:
        typer.echo(f"FAILED salesops warehouse spark: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    counts = Counter(n.status for n in result.nodes)
    summary = ", ".join(f"{status}={count}" for status, count in sorted(counts.items()))
    method = sp.spark_method()
    typer.echo(f"dbt build --target spark ({method}) for {day.isoformat()}: {summary or 'nothing selected'}")
    if not result.success:
        typer.echo(f"FAILED {result.describe_failures() or 'dbt build failed'}", err=True)
        raise typer.Exit(1)
