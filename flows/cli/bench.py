"""`salesops bench` (and `make bench`): the scaling benchmark of issue 14, printed and written under
``<home>/bench/`` as Markdown and JSON (docs/bench.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from flows.bench.runner import BenchOptions, run_bench


def _say(line: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {line}", flush=True)


def bench_command(
    deals: Annotated[int, typer.Option(min=100, help="Deals the generated company has.")] = 1_000_000,
    reps: Annotated[int, typer.Option(min=6, help="Sales reps the generated company has.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 42,
    home: Annotated[
        Path, typer.Option(envvar="SALESOPS_HOME", help="The tables go to <home>/bench/bench-<time>.md|json.")
    ] = Path("data"),
    changed: Annotated[
        float,
        typer.Option(min=0.0001, max=1.0, help="Share of the deals changed before the incremental nightly."),
    ] = 0.01,
    reports: Annotated[
        bool, typer.Option(help="Render and e-mail the manager reports in both nightlies.")
    ] = True,
    fxiaoke_rate_limit: Annotated[
        bool,
        typer.Option(
            help="Keep the Fxiaoke sandbox's rate limit and the pipeline's pacing to it on "
            "(default off: figures measure work, not waits)."
        ),
    ] = False,
    keep: Annotated[
        bool, typer.Option(help="Keep the run's homes and warehouse copies under <home>/bench/.")
    ] = False,
) -> None:
    """Generate a company, serve it from the sandbox in its own process, and measure the pipeline
    against baselines side by side: ingestion vs a naive loop, API calls vs the minimum, dbt run vs
    bare SQL, the gate vs dbt test, the engine vs set-based SQL, full vs incremental nightly, peak RSS."""
    result = run_bench(
        BenchOptions(
            home=home,
            deals=deals,
            reps=reps,
            seed=seed,
            changed_share=changed,
            send_reports=reports,
            keep=keep,
            fxiaoke_rate_limit=fxiaoke_rate_limit,
            progress=_say,
        )
    )
    print()
    print(result.markdown.read_text())
    print(f"written: {result.markdown}\n         {result.json}")
    failed = [r.measurement for r in result.rows if r.error]
    if failed:
        raise typer.Exit(1)
