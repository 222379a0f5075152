"""The `salesops` command.

    salesops demo                     the nightly pipeline on the sandbox CRMs, local SMTP, ./data
    salesops run nightly              the nightly pipeline against the CRMs configured in SALESOPS_*
    salesops run ingest               land CRM objects only (operators: --full-refresh, --since)
    salesops sandbox serve            run the sandbox CRMs as HTTP servers
    salesops sandbox up               the sandbox CRMs + local SMTP outbox, and <home>/sandbox.env
    salesops validate                 run the data-quality gate on demand
    salesops commissions close|estimate|export   period close, what-if estimates, payroll export
    salesops targets lock|history     lock approved targets, see recorded changes
    salesops report preview           render a report without sending it
    salesops backfill                 rerun the nightly pipeline for a range of dates
    salesops warehouse postgres       copy the landing layer to PostgreSQL and build the marts there
    salesops deploy                   check the deployment settings, then deploy prefect.yaml

Configuration comes from SALESOPS_* environment variables (see README.md, "Configuration").
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from flows.cli.hints import failure_hint
from flows.cli.progress import showing_progress
from flows.pipeline.summary import COMMISSION_WARNINGS_SHOWN, NightlySummary, StepFailed

# No phoning home from the temporary Prefect server the CLI may start (and no error line when offline).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

console = Console()
app = typer.Typer(
    help="salesops: the nightly sales-performance pipeline (CRM -> DuckDB -> dbt -> data gate -> email). "
    "Configuration comes from SALESOPS_* environment variables; see README.md.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run_app = typer.Typer(help="Run a pipeline against the CRMs configured in SALESOPS_*.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="Local Zoho CRM and Fxiaoke servers (the demo and tests use them).", no_args_is_help=True
)
app.add_typer(run_app, name="run")
app.add_typer(sandbox_app, name="sandbox")


def _mount_subcommands() -> None:
    """Command groups that live beside the modules they drive."""
    from flows.cli import backfill, bench, deploy, sandbox
    from flows.cli import commissions as commissions_cli
    from flows.cli import metrics as metrics_cli
    from flows.cli import report as report_cli
    from flows.cli import targets as targets_cli
    from flows.cli import validate as validate_cli
    from flows.cli import warehouse as warehouse_cli

    app.add_typer(commissions_cli.app, name="commissions")
    app.add_typer(targets_cli.app, name="targets")
    app.add_typer(validate_cli.app, name="validate")
    app.add_typer(report_cli.app, name="report")
    app.add_typer(warehouse_cli.app, name="warehouse")
    app.add_typer(metrics_cli.app, name="metrics")
    app.command("backfill")(backfill.backfill_command)
    app.command("deploy")(deploy.deploy_command)
    app.command("bench")(bench.bench_command)
    sandbox_app.command("up")(sandbox.sandbox_up)


_mount_subcommands()

DatasetOpt = Annotated[
    str, typer.Option("--dataset", help="synthetic (seeded generator) or maven (real data).")
]
SeedOpt = Annotated[int, typer.Option(help="Generator seed.")]
RepsOpt = Annotated[int, typer.Option(help="Number of sales reps the generator creates.")]
DealsOpt = Annotated[int, typer.Option(help="Number of deals the generator creates.")]
RunDateOpt = Annotated[
    datetime | None,
    typer.Option(
        "--run-date", formats=["%Y-%m-%d"], help="Business date of the run (default: today, company TZ)."
    ),
]
ResendOpt = Annotated[bool, typer.Option("--resend", help="Send reports again even if already sent.")]
ResendUndecidedOpt = Annotated[
    bool,
    typer.Option(
        "--resend-undecided",
        help="Send reports again only to recipients whose earlier outcome is unknown (ambiguous or "
        "interrupted mid-send); never to one the server confirmed.",
    ),
]


def _check_dataset(dataset: str) -> str:
    if dataset not in ("synthetic", "maven"):
        raise typer.BadParameter(
            f"unknown dataset {dataset!r}: use synthetic or maven", param_hint="--dataset"
        )
    return dataset


def _fail(exc: BaseException) -> None:
    """One clear line first, then the trace for whoever needs it, then exit 1."""
    line = str(exc) if isinstance(exc, StepFailed) else f"salesops failed: {type(exc).__name__}: {exc}"
    console.print(f"[bold red]FAILED[/] {line}", highlight=False)
    summary = getattr(exc, "summary", None)
    if summary is not None:
        print_summary(summary)
    traceback.print_exception(exc, file=sys.stderr)
    console.print(f"[bold red]FAILED[/] {line}", highlight=False)
    if hint := failure_hint(exc):
        console.print(hint, highlight=False)
    raise typer.Exit(1)


def _minimum(run: dict) -> str:
    """The fewest API calls that could have read the same records ("-" when the connector does not say)."""
    minimum = run.get("min_api_calls")
    return "-" if minimum is None else str(minimum)


def print_summary(summary: NightlySummary) -> None:
    console.rule(f"salesops nightly run — {summary.run_date} — {summary.status}")
    landed = Table(title="Rows landed per CRM object", title_justify="left")
    for col in ("source", "object", "received", "inserted", "updated", "deleted", "API calls", "minimum"):
        landed.add_column(col, justify="right" if col not in ("source", "object") else "left")
    for r in summary.landed:
        landed.add_row(
            r["source"],
            r["object"],
            str(r["rows_received"]),
            str(r["rows_inserted"]),
            str(r["rows_updated"]),
            str(r["rows_deleted"]),
            str(r["api_calls"]),
            _minimum(r),
        )
    console.print(landed)
    marts = Table(title="Marts built", title_justify="left")
    marts.add_column("mart")
    marts.add_column("rows", justify="right")
    for name, rows in summary.marts.items():
        marts.add_row(name, f"{rows:,}")
    console.print(marts)
    style = "green" if not summary.critical_failures else "red"
    console.print(
        f"Data checks: [{style}]{summary.checks_passed} passed, {summary.checks_failed} failed[/]"
        f" ({len(summary.critical_failures)} critical, {len(summary.warnings)} warnings)"
    )
    for item in summary.critical_failures:
        console.print(f"  [red]critical[/] {item}")
    for item in summary.warnings:
        console.print(f"  [yellow]warning[/] {item}")
    if summary.commission_warnings:  # the full list: marts.fct_commission_warnings
        console.print(f"Commission warnings: [yellow]{len(summary.commission_warnings)}[/]")
        for item in summary.commission_warnings[:COMMISSION_WARNINGS_SHOWN]:
            console.print(f"  [yellow]warning[/] {item}")
    emails = Table(title="Emails", title_justify="left")
    for col in ("status", "recipient", "subject"):
        emails.add_column(col)
    for e in summary.emails:
        emails.add_row(e.status, e.recipient, e.subject)
    console.print(emails if summary.emails else "Emails: none")
    if summary.quarantined:
        console.print(f"[yellow]Quarantined raw rows this run: {summary.quarantined}[/] (see ops.quarantine)")
    console.print(f"Warehouse : {summary.warehouse}   (published marts, read-only for BI)")
    if summary.work_warehouse:
        console.print(f"Working DB: {summary.work_warehouse}   (raw, ops, config; the pipeline's own)")
    if summary.marts_dir:
        console.print(f"Parquet   : {summary.marts_dir}")
    console.print(f"Reports   : {summary.reports_dir}")
    console.print(f"Outbox    : {summary.outbox_dir}")


@app.command()
def demo(
    dataset: DatasetOpt = "synthetic",
    seed: SeedOpt = 42,
    reps: RepsOpt = 24,
    deals: DealsOpt = 1200,
    run_date: RunDateOpt = None,
    resend: ResendOpt = False,
    home: Annotated[Path, typer.Option(envvar="SALESOPS_HOME", help="Where the run writes.")] = Path("data"),
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start the home from a clean state (needed to run another data set, seed or size "
            "in a home that holds a demo company).",
        ),
    ] = False,
) -> None:
    """Run the nightly pipeline on embedded defaults: sandbox CRMs, DuckDB in ./data, local SMTP outbox.

    A home holds one demo company: another --dataset, --seed, --reps or --deals is refused there
    unless --fresh."""
    from flows.cli.demo import run_demo

    _check_dataset(dataset)
    started = time.monotonic()
    try:
        with showing_progress(console):
            summary = run_demo(
                home,
                dataset=dataset,
                seed=seed,
                reps=reps,
                deals=deals,  # type: ignore[arg-type]
                run_date=run_date.date() if run_date else None,
                resend=resend,
                fresh=fresh,
            )
    except Exception as exc:
        _fail(exc)
    print_summary(summary)
    console.print(f"Demo finished in {time.monotonic() - started:.0f}s.")


@run_app.command("nightly")
def run_nightly(
    run_date: RunDateOpt = None,
    resend: ResendOpt = False,
    resend_undecided: ResendUndecidedOpt = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh", help="Re-read every CRM record; rebuild incremental dbt models from raw."
        ),
    ] = False,
) -> None:
    """Ingest -> dbt build -> data gate -> reports, against the CRMs and SMTP in SALESOPS_*."""
    from flows.nightly import nightly
    from flows.reports.emailer import resend_mode

    try:
        mode = resend_mode(resend, resend_undecided)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        with showing_progress(console):
            summary = nightly(
                run_date=run_date.date() if run_date else None, full_refresh=full_refresh, resend=mode
            )
    except Exception as exc:
        _fail(exc)
    print_summary(summary)


@run_app.command("ingest")
def run_ingest(
    source: Annotated[str, typer.Option(help="zoho or fxiaoke.")],
    objects: Annotated[str | None, typer.Option(help="Comma-separated objects (default: all).")] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Ignore cursors, re-read all.")
    ] = False,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Re-read records modified since DATE.")
    ] = None,
) -> None:
    """Land CRM objects into raw.* (incremental from stored cursors unless told otherwise).

    Runs as the Prefect flow 'salesops-ingest': the run, its logs and its 'ingest-runs' table
    artifact (rows and API calls per object) show in Prefect like the nightly's; ops.ingest_runs
    records it too.
    """
    from flows.ingest import ingest_flow

    wanted = [o.strip() for o in objects.split(",")] if objects else None
    try:
        with showing_progress(console):
            runs = ingest_flow(
                source,
                objects=wanted,
                full_refresh=full_refresh,
                since=since.replace(tzinfo=UTC) if since else None,
            )
    except Exception as exc:
        _fail(exc)
    table = Table(title=f"{source} ingest")
    # Object names whole even on an 80-column terminal; the numbers are short.
    table.add_column("object", no_wrap=True, min_width=max((len(r["object"]) for r in runs), default=6))
    columns = ("received", "inserted", "updated", "deleted", "API calls", "minimum", "retries", "seconds")
    for col in (*columns, "reading", "landing"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(
            r["object"],
            *(str(r[k]) for k in ("rows_received", "rows_inserted", "rows_updated", "rows_deleted")),
            str(r["api_calls"]),
            _minimum(r),
            str(r["retries"]),
            str(r["duration_seconds"]),
            f"{r.get('read_seconds', 0):.1f}",
            f"{r.get('land_seconds', 0):.1f}",
        )
    console.print(table)


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[
        int, typer.Option(help="Zoho accounts on PORT, Zoho API on PORT+1, Fxiaoke on PORT+2.")
    ] = 8800,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    dataset: DatasetOpt = "synthetic",
    seed: SeedOpt = 42,
    reps: RepsOpt = 24,
    deals: DealsOpt = 1200,
    as_of: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Generator's 'today' (default: today).")
    ] = None,
) -> None:
    """Serve the sandbox CRMs over HTTP until Ctrl-C.

    Admin surface on each API server (for tests, demos, benchmarks):

    * GET /__admin/stats: request counts per endpoint.

    * POST /__admin/faults: JSON fault switches.

    * POST /__admin/simulate: create/update/delete N records now. Zoho:
    {"module": "Leads", "create": 5, "update": 2, "delete": 1}, any of Deals, Accounts, Contacts,
    Products, Leads, Sales_Orders, Invoices, Tasks, Calls, Events (new records link to existing
    accounts, deals, orders and owners). Fxiaoke: {"obj": "opportunities", "create": 5,
    "update": 2, "invalidate": 1, "delete": 1}.

    * POST /__admin/reset: clear faults and counters (Fxiaoke: its data back to the generated too).

    Point the pipeline at it with the SALESOPS_* lines printed at start-up.
    """
    from flows.sandbox.cluster import SandboxCluster, build_company

    _check_dataset(dataset)
    company = build_company(
        dataset,
        seed=seed,
        reps=reps,
        deals=deals,  # type: ignore[arg-type]
        as_of=as_of.date() if as_of else None,
    )
    with SandboxCluster(company, host=host, port=port) as cluster:
        console.print(cluster.describe(), highlight=False)
        console.print("\nEnvironment for the pipeline:")
        for key, value in cluster.settings_env().items():
            console.print(f"  export {key}={value}", highlight=False)
        console.print("\nServing; Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("stopped")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The project loggers log at INFO into Prefect's run log (flows/pipeline/logs.py); the terminal
    # keeps showing warnings and errors only, under the progress display.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
