"""`salesops bench`: generate a company, serve it from its own process, measure, write the table.

Order: the sandbox process generates and serves the company; the full nightly runs on an empty
home (its working warehouse is then copied aside); ingestion, ``dbt run``, the gate and the engine
are measured against their baselines on copies of it; then 1 % of the deals change in the sandbox
and the incremental nightly runs the next day. Every measurement that fails leaves its error in
the table and the others still run (docs/bench.md).
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flows.bench.commissions import measure_commissions
from flows.bench.dbt_bare import copy_home, measure_dbt_run, measure_gate
from flows.bench.ingestion import measure_ingestion
from flows.bench.isolation import Side
from flows.bench.nightly_runs import full_nightly, incremental_nightly, nightly_rows
from flows.bench.sandbox_process import CompanySpec, SandboxProcess
from flows.bench.table import Row, write

ROWS = (
    "ingestion: Zoho deals, pipeline vs naive loop",
    "dbt run vs its compiled SQL run bare in DuckDB",
    "data gate vs dbt test",
    "commission engine vs set-based baseline",
    "nightly: incremental (1 % of deals changed) vs full",
    "API calls per object vs the minimum (full nightly)",
    "peak RSS of the pipeline process",
)


@dataclass
class BenchOptions:
    home: Path
    deals: int = 1_000_000
    reps: int = 2_000
    seed: int = 42
    run_date: date | None = None  # default: yesterday (the incremental nightly runs today)
    changed_share: float = 0.01
    send_reports: bool = True
    progress: Callable[[str], None] = print
    keep: bool = False  # keep the run's homes and warehouse copies (default: only the tables)
    # the Fxiaoke sandbox's rate limit: off by default, so the figures are work, not back-off waits
    fxiaoke_rate_limit: bool = False


@dataclass
class BenchResult:
    rows: list[Row]
    markdown: Path
    json: Path
    facts: dict[str, Any] = field(default_factory=dict)


def _attempt(name: str, say: Callable[[str], None], measure: Callable[[], Row | list[Row]]) -> list[Row]:
    say(f"{name} ...")
    started = time.perf_counter()
    try:
        out = measure()
    except Exception as failure:
        say(f"{name}: FAILED after {time.perf_counter() - started:,.0f} s: {failure}")
        traceback.print_exc()
        return [Row(name, error=f"{type(failure).__name__}: {failure}")]
    rows = out if isinstance(out, list) else [out]
    say(f"{name}: done in {time.perf_counter() - started:,.0f} s")
    return rows


def run_bench(opts: BenchOptions) -> BenchResult:
    say = opts.progress
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = opts.home.expanduser().resolve() / "bench"
    workdir = out_dir / f"run-{stamp}"
    run_date = opts.run_date or (datetime.now(UTC).date() - timedelta(days=1))
    spec = CompanySpec(workdir / "company", opts.reps, opts.deals, opts.seed, run_date)
    facts: dict[str, Any] = {"deals": opts.deals, "reps": opts.reps, "seed": opts.seed, "run date": run_date}
    rows: list[Row] = []
    say(f"generating {opts.deals:,} deals / {opts.reps:,} reps; the sandbox serves them from its own process")
    try:
        with SandboxProcess(spec, workdir / "sandbox") as sandbox:
            gen = sandbox.ready["generated"]
            facts["company generation (sandbox process)"] = (
                f"{gen['wall_s']:,.1f} s wall, {gen['cpu_s']:,.1f} s CPU, "
                f"{gen['peak_rss_mib']:,.0f} MiB peak RSS "
                f"({gen['deals']:,} deals, {gen['reps']:,} reps)"
            )
            say(f"sandbox serving: {facts['company generation (sandbox process)']}")
            if not opts.fxiaoke_rate_limit:
                sandbox.lift_fxiaoke_rate_limit()
            facts["Fxiaoke sandbox rate limit"] = (
                "on (60 calls / 20 s per endpoint)" if opts.fxiaoke_rate_limit else "off"
            )
            rows = _measure_all(opts, sandbox, workdir, run_date, say)
    except Exception as failure:
        say(f"the sandbox failed: {failure}")
        facts["sandbox"] = f"FAILED: {type(failure).__name__}: {failure}"
    done = {r.measurement for r in rows}
    rows += [
        Row(name, error="not measured (see the sandbox line above)") for name in ROWS if name not in done
    ]
    rows.sort(key=lambda r: ROWS.index(r.measurement) if r.measurement in ROWS else len(ROWS))
    title = f"salesops bench: {opts.deals:,} deals, {opts.reps:,} reps ({stamp})"
    md, js = write(out_dir, stamp, title, facts, rows)
    if not opts.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return BenchResult(rows, md, js, facts)


def _measure_all(
    opts: BenchOptions, sandbox: SandboxProcess, workdir: Path, run_date: date, say: Callable[[str], None]
) -> list[Row]:
    env = sandbox.env
    nightly_home = workdir / "nightly"
    snapshot = workdir / "full-nightly.duckdb"
    full: list[Side] = []

    def full_run() -> list[Row]:
        full.append(full_nightly(env, str(nightly_home), run_date, opts.send_reports, sandbox))
        shutil.copy2(nightly_home / "work" / "warehouse.duckdb", snapshot)
        return []

    rows = _attempt("full nightly", say, full_run)
    rows += _attempt(ROWS[0], say, lambda: measure_ingestion(env, workdir))
    needs_full = "needs the full nightly's warehouse, which failed"
    for name, measure in (
        (ROWS[1], lambda: measure_dbt_run(env, snapshot, workdir, run_date)),
        (ROWS[2], lambda: measure_gate(env, snapshot, workdir, run_date)),
        (
            ROWS[3],
            lambda: measure_commissions(env, copy_home(snapshot, workdir / "engine"), run_date),
        ),
    ):
        rows += _attempt(name, say, measure) if full else [Row(name, error=needs_full)]
    if not full:
        return [r for r in rows if r.measurement != "full nightly"]
    incremental: list[Side] = []
    errors = _attempt(
        "incremental nightly",
        say,
        lambda: (
            incremental.append(
                incremental_nightly(
                    env,
                    str(nightly_home),
                    run_date + timedelta(days=1),
                    opts.send_reports,
                    sandbox,
                    opts.changed_share,
                )
            )
            or []
        ),
    )
    rows += nightly_rows(
        full[0], incremental[0] if incremental else None, errors[0].error if errors else None
    )
    return rows
