"""`salesops backfill --from DATE --to DATE`: rerun the nightly flow for a range of days, in order.

Each day is one ordinary nightly flow run with that ``run_date`` (so it shows in Prefect as its
own run, takes the run lock, and is idempotent): landing finds unchanged records, dbt rebuilds the
marts as of the day, the gate runs, the marts are published, and the day's manager reports go
out only to whoever has not had them (``--no-email`` skips them; ``--resend`` forces them;
``--resend-undecided`` repeats only those whose earlier outcome is unknown). The
first failing day stops the backfill; the days before it stay done, so rerunning the same range
is safe.

The lead mounts the command in flows/cli/main.py: ``app.command("backfill")(backfill.backfill_command)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from flows.cli.hints import failure_hint
from flows.cli.progress import showing_progress
from flows.pipeline.summary import NightlySummary, StepFailed
from flows.reports.emailer import Resend, resend_mode

console = Console()
MAX_DAYS = 366


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"{days} days is more than {MAX_DAYS}: split the range")
    return [start + timedelta(days=i) for i in range(days)]


def backfill(
    start: date,
    end: date,
    *,
    send_reports: bool = True,
    resend: Resend = False,
    full_refresh: bool = False,
    on_day=None,
) -> list[NightlySummary]:
    """Run the nightly flow for every day from ``start`` to ``end`` inclusive, oldest first."""
    from flows.nightly import nightly

    done: list[NightlySummary] = []
    for i, day in enumerate(days_between(start, end)):
        try:
            summary = nightly(
                run_date=day,
                full_refresh=full_refresh and i == 0,  # one full re-read is enough for the range
                resend=resend,
                send_reports=send_reports,
            )
        except StepFailed as exc:
            raise StepFailed("backfill", day.isoformat(), f"{exc} ({len(done)} earlier day(s) done)") from exc
        done.append(summary)
        if on_day:
            on_day(summary)
    return done


def backfill_command(
    from_: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (inclusive).")],
    to: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (inclusive).")],
    no_email: Annotated[bool, typer.Option("--no-email", help="Rebuild only; send no reports.")] = False,
    resend: Annotated[
        bool, typer.Option("--resend", help="Send reports again even if already sent.")
    ] = False,
    resend_undecided: Annotated[
        bool,
        typer.Option(
            "--resend-undecided",
            help="Send reports again only to recipients whose earlier outcome is unknown (ambiguous or "
            "interrupted mid-send); never to one the server confirmed.",
        ),
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="On the first day: re-read every CRM record, rebuild incremental dbt models.",
        ),
    ] = False,
) -> None:
    """Rerun the nightly pipeline for each day from --from to --to, in order; stop at the first failure."""
    try:
        days = days_between(from_.date(), to.date())
        mode = resend_mode(resend, resend_undecided)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    console.print(f"Backfilling {len(days)} day(s): {days[0]} … {days[-1]}")

    def report(summary: NightlySummary) -> None:
        sent = sum(1 for e in summary.emails if e.status == "sent")
        console.print(
            f"  {summary.run_date}: {summary.status}, {sum(summary.marts.values()):,} mart rows, {sent} sent"
        )

    try:
        with showing_progress(console):
            backfill(
                from_.date(),
                to.date(),
                send_reports=not no_email,
                resend=mode,
                full_refresh=full_refresh,
                on_day=report,
            )
    except StepFailed as exc:
        console.print(f"[bold red]FAILED[/] {exc}", highlight=False)
        if hint := failure_hint(exc):
            console.print(hint, highlight=False)
        raise typer.Exit(1) from None
    console.print("Backfill complete.")


app = typer.Typer(help="Rerun the nightly pipeline over a range of days.", add_completion=False)
app.command("backfill")(backfill_command)
