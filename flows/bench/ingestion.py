"""Ingestion: the pipeline's landing of Zoho deals vs the naive loop, on the same sandbox module.

Both read every deal of the same running sandbox into a DuckDB file of their own; each runs in its
own process (:func:`flows.bench.isolation.in_child`). The figure is records per second three ways:
over wall time; over each side's own time, its wall minus the time it was blocked on HTTP calls to
the sandbox (measured the same way on both sides, :mod:`flows.bench.httpwait`), which is the landing
throughput "without the sandbox's share" issue 14 asks for; and over CPU time, which also leaves out
the time the process waited for a core on a loaded machine. The ratio is pipeline / naive on each
(higher is better for the pipeline); docs/bench.md says which definition meets the 10x target.

Both sides' modules are imported here, at module level, so a child has them loaded before its
clock starts (the child imports this module to find the function): the naive loop's ``requests``
and ``duckdb`` always were, the pipeline's landing modules (pandas among them, about 0.3 s of CPU)
were imported inside its timed call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flows.bench.isolation import Side, in_child
from flows.bench.naive import naive_zoho_deals
from flows.bench.table import Row
from flows.config.settings import get_settings
from flows.crm.landing import ingest_source
from flows.crm.page_batches import BatchLimits
from flows.crm.registry import build_connectors
from flows.warehouse.database import Warehouse


def pipeline_zoho_deals(home: str) -> dict[str, Any]:
    """Land every Zoho deal (a first load, ``full_refresh``) into a fresh working warehouse."""
    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    settings.ensure_dirs()
    settings.warehouse_path.unlink(missing_ok=True)
    connector = next(c for c in build_connectors(settings) if c.source == "zoho")
    try:
        runs = ingest_source(
            connector,
            Warehouse(settings.warehouse_path),
            run_id="bench-ingest",
            objects=["deals"],
            full_refresh=True,
            batch=BatchLimits.of(settings),
        )
        extra = dict(connector.stats("deals").extra)
    finally:
        connector.close()
    # inserted, not received: the keyset walk re-reads a few records where pages overlap
    return {
        "records": sum(r.stats.inserted for r in runs),
        "received": sum(r.stats.received for r in runs),
        "api_calls": sum(r.api_calls for r in runs),
        # the settings decide: Bulk Read from SALESOPS_ZOHO_BULK_READ_MIN_RECORDS deals on
        "path": "Bulk Read" if extra.get("listed_bulk") else "REST listing",
    }


def _rates(side: Side) -> tuple[float, float, float]:
    """Records per second over the side's wall, its own time (wall minus HTTP waits) and its CPU."""
    records = side.result["records"]
    own = (side.wall_s or 0.0) - (side.http_wait_s or 0.0)
    return (
        records / side.wall_s if side.wall_s else 0.0,
        records / own if own > 0 else 0.0,
        records / side.cpu_s if side.cpu_s else 0.0,
    )


def measure_ingestion(env: dict[str, str], workdir: Path) -> Row:
    pipeline = in_child("pipeline landing", env, pipeline_zoho_deals, str(workdir / "ingest-home"))
    naive = in_child("naive loop", env, naive_zoho_deals, str(workdir / "naive.duckdb"))
    return ingestion_row(pipeline, naive)


def ingestion_row(pipeline: Side, naive: Side) -> Row:
    """The row from both sides' costs: refused unless both landed the same number of deals."""
    if pipeline.result["records"] != naive.result["records"]:
        raise AssertionError(
            f"the pipeline landed {pipeline.result['records']} deals, "
            f"the naive loop {naive.result['records']}"
        )
    ours, theirs = _rates(pipeline), _rates(naive)
    ratios = [a / b if b else None for a, b in zip(ours, theirs, strict=True)]
    shown = ["n/a" if r is None else f"{r:.2f}×" for r in ratios]
    return Row(
        "ingestion: Zoho deals, pipeline vs naive loop",
        pipeline,
        naive,
        figure=(
            f"{pipeline.result['records']:,} deals ({pipeline.result['path']}); records/s pipeline vs "
            f"naive: over wall {ours[0]:,.0f} vs {theirs[0]:,.0f}; over own time (wall minus HTTP "
            f"waits: pipeline {pipeline.http_wait_s:,.1f} s in {pipeline.http_calls:,} calls, naive "
            f"{naive.http_wait_s:,.1f} s in {naive.http_calls:,} calls) {ours[1]:,.0f} vs "
            f"{theirs[1]:,.0f}; over CPU {ours[2]:,.0f} vs {theirs[2]:,.0f}"
        ),
        ratio=ratios[0],
        ratio_means=(
            f"pipeline ÷ naive records/s over wall (higher is better); over own time {shown[1]}, "
            f"over CPU {shown[2]}"
        ),
        details={
            "ratio_own_time": None if ratios[1] is None else round(ratios[1], 3),
            "ratio_cpu": None if ratios[2] is None else round(ratios[2], 3),
            "path": pipeline.result["path"],
        },
    )
