"""The data-quality gate: every check of a layer, before anything is published.

Two layers, two calls: ``run_checks(..., layer="raw")`` after landing, ``layer="marts"`` after dbt.
A failed *critical* check fails the gate (nothing is published, no manager report, the data
engineers get an alert); *warnings* are reported and everything publishes. The raw layer is Great
Expectations (and the quarantine); the marts layer is the GX suites plus the dbt tests of the same
marts, read back from dbt's last build. docs/quality.md explains the design and where each check
lives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb

from flows.config.settings import Settings
from flows.quality import quarantine as quarantine_store
from flows.quality.dbt_tests import add_to_data_docs, dbt_checks, record_closed_statements
from flows.quality.gx_runtime import build_data_docs, runtime_context
from flows.quality.reference import suite_parameters
from flows.quality.results import CheckResult, GateResult
from flows.quality.sources import SuiteSource, suite_sources
from flows.quality.store import store_results
from flows.quality.suite import ROW_SCOPES, SuiteRun, run_suite
from flows.warehouse import duckdb_limits

log = logging.getLogger(__name__)


def run_checks(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    suites: list[str] | None = None,
    layer: str | None = None,
    row_scope: str = "all",
    measured: Sequence[CheckResult] = (),
) -> GateResult:
    """Run suites, quarantine offending raw rows, store the results, build Data Docs.

    ``suites`` names suites explicitly; otherwise ``layer`` (``"raw"`` / ``"marts"``) picks that
    layer's suites, or all suites when both are None. Raw tables without a suite of their own get
    the generic table-level suite as ``raw_<table>``. ``row_scope`` is ``"all"`` or ``"run"``
    (row-level checks only on the rows ``run_id`` landed, plus the quarantined ones). ``measured``
    are checks run before the connection was opened (dbt source freshness, :mod:`flows.quality.freshness`),
    stored and judged with the others.

    ``conn`` is the caller's open connection (opened with the default config: a process that ran
    dbt in-process cannot reopen the file read-only). Results go to ``ops.validation_results``,
    quarantined rows to ``ops.quarantine``, row counts to ``ops.raw_table_counts``.
    """
    if row_scope not in ROW_SCOPES:
        raise ValueError(f"row_scope must be one of {ROW_SCOPES}, not {row_scope!r}")
    started = time.perf_counter()
    sources = suite_sources(conn)
    names = _selected(sources, suites, layer)
    checked_at = datetime.now(UTC)
    context = runtime_context(settings)
    run = SuiteRun(
        conn=conn,
        context=context,
        settings=settings,
        run_id=run_id,
        checked_at=checked_at,
        params=suite_parameters(conn, settings, checked_at),
        row_scope=row_scope,
    )
    results: list[CheckResult] = list(measured)
    counts: dict[str, dict[str, int]] = {}
    with duckdb_limits.gate_memory(conn, settings):  # what DuckDB caches of the scans stays small
        for name in names:
            suite_results, qcounts = run_suite(run, name, sources[name])
            from_dbt = dbt_checks(conn, name, sources[name])
            add_to_data_docs(context, name, from_dbt, run_id, checked_at)
            results += suite_results + from_dbt
            if qcounts is not None:
                counts[name] = qcounts
    if any(sources[n].cross_table for n in names):
        record_closed_statements(conn)
    docs_path = build_data_docs(context, settings)
    store_results(conn, run_id, checked_at, results)
    gate = GateResult(
        run_id=run_id,
        results=results,
        data_docs_path=docs_path,
        duration_seconds=round(time.perf_counter() - started, 3),
        quarantined=quarantine_store.quarantine_summary(conn, run_id),
        quarantine_counts=counts,
    )
    log.info(
        "gate %s: %d checks, %d critical failures, %d warnings, %d rows quarantined in %.1fs",
        "passed" if gate.success else "FAILED",
        len(results),
        len(gate.critical_failures),
        len(gate.warnings),
        len(gate.quarantined),
        gate.duration_seconds,
    )
    return gate


def _selected(sources: dict[str, SuiteSource], suites: list[str] | None, layer: str | None) -> list[str]:
    if suites is None:
        return [n for n, s in sources.items() if layer is None or s.layer == layer]
    unknown = [n for n in suites if n not in sources]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(sources)}")
    return list(suites)
