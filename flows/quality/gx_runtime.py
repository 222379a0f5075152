"""The Great Expectations side of the gate: the in-memory context, suite JSON, validating frames.

The committed ``expectations/`` context holds the suites; at run time the context is rebuilt in
memory from ``great_expectations.yml`` with the validation results and Data Docs pointed at
``<SALESOPS_HOME>/gx/`` (one context per gate run), so the repository is never written. Frames
come from DuckDB (GX 1.24's SQL datasource does not work on DuckDB) and are validated as
ephemeral pandas dataframe assets, chunk by chunk; the per-chunk results are merged here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import yaml

from flows.config.settings import Settings
from flows.quality.docs_offline import make_offline
from flows.quality.results import (
    EXAMPLE_COUNT,
    CheckResult,
    column_of,
    jsonable,
    setup_failure,
)

if TYPE_CHECKING:  # GX takes seconds to import: only the gate run pays for it.
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

#: Rows per chunk of a row-level frame. Each cell of a text column is a Python string, and what a
#: chunk's strings freed is not all handed back to the system (small objects share memory pages
#: with longer-lived ones): the raw gate at 1M bench deals peaked at 1,620 MiB and kept 469 MiB
#: resident after with 100k rows, against 1,866 and 730 MiB with 250k, in 33-37 s either way
#: (docs/operations.md).
CHUNK_ROWS = 100_000
DATA_DOCS_SITE = "local_site"


def gx_output_dir(settings: Settings) -> Path:
    return settings.home_dir / "gx"


def runtime_config(settings: Settings) -> dict:
    """The committed context config with every writable store moved out of the repository.

    Suites are read from the committed JSON into an in-memory store (so nothing a run does can
    rewrite them); validation results and the Data Docs site go under ``<home>/gx``.
    """
    config = yaml.safe_load((settings.expectations_dir / "great_expectations.yml").read_text("utf-8"))
    out = gx_output_dir(settings)
    in_memory = {"class_name": "InMemoryStoreBackend"}
    stores = config["stores"]
    stores["expectations_store"]["store_backend"] = dict(in_memory)
    stores["checkpoint_store"]["store_backend"] = dict(in_memory)
    stores["validation_definition_store"]["store_backend"] = dict(in_memory)
    stores["validation_results_store"]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(out / "validations"),
    }
    site = config["data_docs_sites"][DATA_DOCS_SITE]
    site["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(out / "data_docs"),
    }
    config.pop("config_variables_file_path", None)
    config.pop("plugins_directory", None)
    config["analytics_enabled"] = False
    return config


def runtime_context(settings: Settings) -> AbstractDataContext:
    import great_expectations as gx

    gx_output_dir(settings).mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="ephemeral", project_config=runtime_config(settings))


def build_data_docs(context: AbstractDataContext, settings: Settings) -> Path | None:
    """Data Docs are a convenience: failing to build them must not fail the gate.

    The built site is rewritten to render offline (:mod:`flows.quality.docs_offline`); a site that
    cannot be rewritten is reported as not built rather than left blank without internet.
    """
    site = gx_output_dir(settings) / "data_docs"
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
        make_offline(site, gx_output_dir(settings) / "validations")
    except Exception:
        log.exception("building Data Docs failed")
        return None
    index = site / "index.html"
    return index if index.exists() else None


def load_suite_json(settings: Settings, name: str) -> dict:
    path = settings.expectations_dir / "expectations" / f"{name}.json"
    return json.loads(path.read_text("utf-8"))


def expectation_frame(exp: dict) -> str:
    return str((exp.get("meta") or {}).get("frame") or "row")


def expectation_columns(exp: dict) -> set[str]:
    kwargs = exp.get("kwargs", {})
    cols = {kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)}
    cols |= set(kwargs.get("column_list") or [])
    return cols


def parameter_names(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return {str(value["$PARAMETER"])}
        return set().union(*(parameter_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(parameter_names(v) for v in value)) if value else set()
    return set()


def chunks(conn: duckdb.DuckDBPyConnection, sql: str, parameters: dict | None) -> Iterator[pd.DataFrame]:
    """The row-level frame, yielded in :data:`CHUNK_ROWS` pieces (at least one, possibly empty).

    It streams on its own cursor, so the connection stays usable while a frame is half read.
    """
    cursor = conn.cursor()
    try:
        result = cursor.execute(sql, parameters) if parameters else cursor.execute(sql)
        vectors = max(1, CHUNK_ROWS // 2048)  # DuckDB hands out vectors of 2048 rows
        first = True
        while True:
            frame = result.fetch_df_chunk(vectors)
            if frame.empty and not first:
                return
            yield frame
            if frame.empty:
                return
            first = False
    finally:
        cursor.close()


def validate(
    context: AbstractDataContext,
    suite_name: str,
    spec: dict,
    expectations: list[dict],
    frames: Iterable[pd.DataFrame],
    key_columns: Sequence[str],
    params: dict[str, Any],
    run_id: str,
    checked_at: datetime,
    table: str,
) -> list[CheckResult]:
    """Validate every frame with one GX suite; merge the per-chunk results into one per expectation."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    suite = suite_name.removesuffix("__table")
    try:
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"{suite_name}_gate",
                data=_batch_definition(context, suite_name),
                suite=context.suites.add(
                    gx.ExpectationSuite(
                        name=suite_name,
                        expectations=[_gx_expectation(e) for e in expectations],
                        meta=spec.get("meta") or {},
                    )
                ),
            )
        )
        per_chunk: list[list[CheckResult]] = []
        for frame in frames:
            outcome = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=params,
                result_format={
                    "result_format": "COMPLETE",
                    "partial_unexpected_count": EXAMPLE_COUNT,
                    "unexpected_index_column_names": [c for c in key_columns if c in frame.columns],
                    "return_unexpected_index_query": False,
                },
                run_id=RunIdentifier(run_name=run_id, run_time=checked_at),
            )
            per_chunk.append([_check_result(suite, table, len(frame), r) for r in outcome.results])
    except Exception as exc:  # a broken suite must not hide the other suites' results
        log.exception("suite %s could not run", suite_name)
        return [setup_failure(suite, "suite_runs", f"{type(exc).__name__}: {exc}", table)]
    finally:
        _forget_frames(context, suite_name)
    return _merge(per_chunk)


def _forget_frames(context: AbstractDataContext, suite_name: str) -> None:
    """Drop the suite's datasource, and with it the last frame it validated.

    Why: GX's pandas execution engine keeps the batch it last loaded, and GX keeps the context
    (module-level ``project_manager``) after the gate returns; every suite's last chunk (up to
    :data:`CHUNK_ROWS` rows of object columns) stayed alive through the gate and into the steps
    after it: 550 MiB of a raw gate's 1,180 MiB peak at 300k bench deals (issue 14). The results
    are already taken; Data Docs read the validation results store, not the datasource."""
    try:
        context.data_sources.delete(f"salesops_{suite_name}")
    except Exception:  # never fail a gate over housekeeping; the memory is then only kept longer
        log.warning("could not drop GX datasource salesops_%s", suite_name, exc_info=True)


def _batch_definition(context: AbstractDataContext, suite_name: str) -> Any:
    datasource = context.data_sources.add_or_update_pandas(f"salesops_{suite_name}")
    asset = datasource.add_dataframe_asset(suite_name)
    return asset.add_batch_definition_whole_dataframe("whole_table")


def _gx_expectation(spec: dict) -> Any:
    """A GX expectation object from its JSON (type, kwargs, meta, description, severity)."""
    from great_expectations.expectations.registry import get_expectation_impl

    impl = get_expectation_impl(spec["type"])
    extra = {k: spec[k] for k in ("meta", "description") if spec.get(k) is not None}
    return impl(**spec["kwargs"], **extra)


def _check_result(suite: str, table: str, rows: int, r: Any) -> CheckResult:
    """One GX expectation result as a :class:`CheckResult` (severity from ``meta.severity``)."""
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    meta = dict(config.meta or {})
    result = r.result or {}
    exception = (r.exception_info or {}) if isinstance(r.exception_info, dict) else {}
    error = exception.get("exception_message") if exception.get("raised_exception") else None
    observed = result.get("observed_value")
    if error:
        observed = f"error: {error}"
    elif observed is None and "unexpected_percent" in result:
        pct = result.get("unexpected_percent")
        observed = f"{pct or 0:.2f}% unexpected of {result.get('element_count', rows)}"
    description = getattr(config, "description", None) or ""
    indexed = result.get("unexpected_index_list") or []
    details = {
        "table": table,
        "rows": rows,
        "kwargs": {k: v for k, v in kwargs.items() if k != "batch_id"},
        "unexpected_percent": result.get("unexpected_percent"),
        "missing_count": result.get("missing_count"),
        "gx_expectation_id": config.id,
        "error": error,
        "meta": meta,
        "base_description": description,
    }
    return CheckResult(
        suite=suite,
        expectation=config.type,
        column=column_of(kwargs),
        severity=str(meta.get("severity") or "critical").lower(),
        success=bool(r.success) and not error,
        observed_value=jsonable(observed),
        unexpected_count=result.get("unexpected_count"),
        unexpected_examples=_examples(result),
        description=description,
        details=jsonable(details),
        offending=jsonable(list(indexed)) if indexed and isinstance(indexed[0], dict) else [],
    )


def _examples(result: dict) -> list:
    """Offending rows with their keys when GX gives them, else offending values."""
    indexed = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list")
    if indexed and isinstance(indexed[0], dict):
        return jsonable(list(indexed[:EXAMPLE_COUNT]))
    values = result.get("partial_unexpected_list") or []
    return jsonable(list(values[:EXAMPLE_COUNT]))


def _merge(per_chunk: list[list[CheckResult]]) -> list[CheckResult]:
    if len(per_chunk) == 1:
        return per_chunk[0]
    return [_merge_one(parts) for parts in zip(*per_chunk, strict=True)]


def _merge_one(parts: tuple[CheckResult, ...]) -> CheckResult:
    first = parts[0]
    counts = [p.unexpected_count for p in parts if p.unexpected_count is not None]
    rows = sum(int(p.details.get("rows") or 0) for p in parts)
    unexpected = sum(counts) if counts else None
    observed = first.observed_value
    if unexpected is not None:
        observed = f"{unexpected} unexpected of {rows} rows ({len(parts)} chunks)"
    return CheckResult(
        suite=first.suite,
        expectation=first.expectation,
        column=first.column,
        severity=first.severity,
        success=all(p.success for p in parts),
        observed_value=observed,
        unexpected_count=unexpected,
        unexpected_examples=[e for p in parts for e in p.unexpected_examples][:EXAMPLE_COUNT],
        description=first.description,
        details={**first.details, "rows": rows, "chunks": len(parts)},
        offending=[o for p in parts for o in p.offending],
    )
