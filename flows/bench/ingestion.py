"""Ingestion: the pipeline's landing of Zoho deals vs the naive loop, on the same sandbox module.

Both read every deal of the same running sandbox into a DuckDB file of their own; each runs in its
own process (:func:`flows.bench.isolation.in_child`). The figure is records per second of wall time
and the ratio pipeline / naive (higher is better for the pipeline).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flows.bench.isolation import in_child
from flows.bench.naive import naive_zoho_deals
from flows.bench.table import Row


def pipeline_zoho_deals(home: str) -> dict[str, Any]:
    """Land every Zoho deal (a first load, ``full_refresh``) into a fresh working warehouse."""
    from flows.config.settings import get_settings
    from flows.crm.landing import ingest_source
    from flows.crm.registry import build_connectors
    from flows.warehouse.database import Warehouse

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
        )
    finally:
        connector.close()
    # inserted, not received: the keyset walk re-reads a few records where pages overlap
    return {
        "records": sum(r.stats.inserted for r in runs),
        "received": sum(r.stats.received for r in runs),
        "api_calls": sum(r.api_calls for r in runs),
    }


def measure_ingestion(env: dict[str, str], workdir: Path) -> Row:
    pipeline = in_child("pipeline landing", env, pipeline_zoho_deals, str(workdir / "ingest-home"))
    naive = in_child("naive loop", env, naive_zoho_deals, str(workdir / "naive.duckdb"))
    rate = pipeline.result["records"] / pipeline.wall_s if pipeline.wall_s else 0.0
    naive_rate = naive.result["records"] / naive.wall_s if naive.wall_s else 0.0
    if pipeline.result["records"] != naive.result["records"]:
        raise AssertionError(
            f"the pipeline landed {pipeline.result['records']} deals, "
            f"the naive loop {naive.result['records']}"
        )
    return Row(
        "ingestion: Zoho deals, pipeline vs naive loop",
        pipeline,
        naive,
        figure=f"{rate:,.0f} vs {naive_rate:,.0f} records/s ({pipeline.result['records']:,} deals)",
        ratio=rate / naive_rate if naive_rate else None,
        ratio_means="pipeline records/s ÷ naive records/s (higher is better)",
    )
