"""The data-quality gate: Great Expectations suites run against the warehouse before reports go out.

Why the shape:

* **pandas datasource, not SQL.** GX 1.24's SQL datasource returns no rows on DuckDB (every
  expectation fails with ``IndexError``), so each suite's table is read into a DataFrame by a
  query in :data:`SUITE_SOURCES` and validated as an ephemeral dataframe asset.
* **narrow frames.** Raw tables keep the CRM object as JSON; the query pulls out only the fields
  the suite checks (``record->>'Amount'`` …), so the frame is ~10 short columns per record, not
  the whole JSON. DuckDB does the extraction vectorised; a raw table holds one row per record
  (its latest version), so its size is the size of the CRM: 1M deals is ~100-200 MB of frame,
  which is fine for a nightly job. Past that, the row-level checks should be limited to the rows
  loaded by the run (``where run_id = ?``) and table-wide ones (uniqueness) pushed into SQL.
* **the repository is never written.** The committed ``expectations/`` context holds the suites;
  at run time the context is rebuilt in memory from ``great_expectations.yml`` with the
  validation results and Data Docs pointed at ``<SALESOPS_HOME>/gx/`` (one context per gate run).
* **severity lives in each expectation's ``meta``**: only a failed *critical* expectation fails
  the gate; warnings are reported but let the reports go out.
* **missing or broken tables are results, not crashes**: a suite whose table does not exist (or
  whose query fails) becomes one failed critical check with the reason, so the nightly run can
  still tell the data engineer what is wrong.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import yaml

from flows.settings import Settings

if TYPE_CHECKING:  # GX takes seconds to import: only the gate run pays for it.
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

#: dbt writes marts to ``marts`` (custom schema name) or ``main_marts`` (dbt-duckdb default).
MARTS_SCHEMAS: tuple[str, ...] = ("marts", "main_marts")
#: Clock skew tolerated before a record's modified time counts as "in the future".
FUTURE_SKEW = timedelta(minutes=5)
#: How many offending rows each failed check keeps as examples.
EXAMPLE_COUNT = 5
DATA_DOCS_SITE = "local_site"


@dataclass(frozen=True)
class SuiteSource:
    """Where a suite's data comes from: the table and the narrow query that reads it."""

    table: str  # "schema.table"; marts tables are looked up in every schema of MARTS_SCHEMAS
    sql: str  # selects from "{table}"
    key_columns: tuple[str, ...]  # identify offending rows in examples


_ZOHO_DEALS_SQL = """
    select
        id,
        record->>'id' as record_id,
        nullif(trim(record->>'Amount'), '') as amount_text,
        try_cast(nullif(trim(record->>'Amount'), '') as decimal(38, 6)) as amount,
        record->>'Stage' as stage,
        record->>'Currency' as currency,
        record->'Owner'->>'id' as owner_id,
        modified_at,
        is_deleted
    from {table}
"""

_FXIAOKE_OPPORTUNITIES_SQL = """
    select
        id,
        record->>'_id' as record_id,
        nullif(trim(record->>'amount'), '') as amount_text,
        try_cast(nullif(trim(record->>'amount'), '') as decimal(38, 6)) as amount,
        record->>'sales_stage__r' as stage,
        record->>'mc_currency' as currency,
        record->'owner'->>0 as owner_id,
        record->>'life_status' as life_status,
        modified_at,
        is_deleted
    from {table}
"""

SUITE_SOURCES: dict[str, SuiteSource] = {
    "raw_zoho_deals": SuiteSource("raw.zoho_deals", _ZOHO_DEALS_SQL, ("id",)),
    "raw_fxiaoke_opportunities": SuiteSource(
        "raw.fxiaoke_opportunities", _FXIAOKE_OPPORTUNITIES_SQL, ("id",)
    ),
    "marts_rep_scorecard": SuiteSource(
        "marts.fct_rep_scorecard",
        """
        select rep_id, period_month, manager_email, won_amount, deals_won, deals_lost, win_rate,
               open_pipeline_amount, weighted_pipeline_amount, target_amount, attainment
        from {table}
        """,
        ("rep_id", "period_month"),
    ),
    "marts_commissions": SuiteSource(
        "marts.fct_commissions",
        """
        select commission_line_id, rep_id, period_month, currency, rate, band_lower, band_upper,
               commission_amount,
               abs(commission_amount) / nullif(abs(base_amount), 0) as commission_to_base_ratio
        from {table}
        """,
        ("commission_line_id",),
    ),
    "marts_sales_targets": SuiteSource(
        "marts.fct_sales_targets",
        "select rep_id, period_month, target_amount, actual_amount, attainment from {table}",
        ("rep_id", "period_month"),
    ),
}


@dataclass
class CheckResult:
    """One expectation's outcome on one suite's data (a row of ``ops.validation_results``)."""

    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_examples: list = field(default_factory=list)
    description: str = ""
    details: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.description or self.expectation


@dataclass
class GateResult:
    """All checks of one gate run; ``success`` means no critical check failed."""

    run_id: str
    results: list[CheckResult]
    data_docs_path: Path | None = None
    duration_seconds: float = 0.0

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity != "critical"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    def summary_markdown(self) -> str:
        """Short Markdown for a Prefect artifact or the alert e-mail: failures first, with examples."""
        status = "PASSED" if self.success else "FAILED"
        suites = sorted({r.suite for r in self.results})
        passed = sum(r.success for r in self.results)
        lines = [
            f"## Data quality gate {status} (run `{self.run_id}`)",
            "",
            f"{len(self.results)} checks in {len(suites)} suites ({', '.join(suites)}): {passed} passed, "
            f"{len(self.critical_failures)} critical failures, {len(self.warnings)} warnings.",
        ]
        for title, rows in (("Critical failures", self.critical_failures), ("Warnings", self.warnings)):
            if not rows:
                continue
            lines += [
                "",
                f"### {title}",
                "",
                "| suite | check | column | observed | unexpected | examples |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                "| "
                + " | ".join(
                    _md_cell(v)
                    for v in (
                        r.suite,
                        r.label,
                        r.column or "",
                        _short(r.observed_value),
                        "" if r.unexpected_count is None else r.unexpected_count,
                        _short(r.unexpected_examples),
                    )
                )
                + " |"
                for r in rows
            ]
        if self.data_docs_path:
            lines += ["", f"Data Docs: `{self.data_docs_path}`"]
        return "\n".join(lines) + "\n"


def run_checks(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_id: str,
    suites: list[str] | None = None,
) -> GateResult:
    """Run the suites (default: all in :data:`SUITE_SOURCES`), store the results, build Data Docs.

    ``conn`` is the caller's open connection (opened with the default config: a process that ran
    dbt in-process cannot reopen the file read-only). Results go to ``ops.validation_results``.
    """
    started = time.perf_counter()
    names = list(suites) if suites is not None else list(SUITE_SOURCES)
    unknown = [n for n in names if n not in SUITE_SOURCES]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(SUITE_SOURCES)}")
    checked_at = datetime.now(UTC)
    context = _runtime_context(settings)
    results: list[CheckResult] = []
    for name in names:
        results += _run_suite(conn, context, settings, name, run_id=run_id, checked_at=checked_at)
    docs_path = _build_data_docs(context, settings)
    _store_results(conn, run_id, checked_at, results)
    gate = GateResult(
        run_id=run_id,
        results=results,
        data_docs_path=docs_path,
        duration_seconds=round(time.perf_counter() - started, 3),
    )
    log.info(
        "gate %s: %d checks, %d critical failures, %d warnings in %.1fs",
        "passed" if gate.success else "FAILED",
        len(results),
        len(gate.critical_failures),
        len(gate.warnings),
        gate.duration_seconds,
    )
    return gate


# --- tables --------------------------------------------------------------------------------------


def find_table(conn: duckdb.DuckDBPyConnection, table: str) -> str | None:
    """The qualified name under which ``schema.table`` exists, or None.

    Marts are looked up in every schema of :data:`MARTS_SCHEMAS`, so the gate and the reports work
    whether dbt writes them to ``marts`` or to dbt-duckdb's default ``main_marts``.
    """
    schema, name = table.split(".", 1)
    candidates = MARTS_SCHEMAS if schema in MARTS_SCHEMAS else (schema,)
    rows = conn.execute(
        "select table_schema from information_schema.tables where table_name = ? and table_schema in "
        f"({', '.join('?' for _ in candidates)})",
        [name, *candidates],
    ).fetchall()
    found = {r[0] for r in rows}
    return next((f'"{s}"."{name}"' for s in candidates if s in found), None)


# --- GX context ----------------------------------------------------------------------------------


def gx_output_dir(settings: Settings) -> Path:
    return settings.home_dir / "gx"


def _runtime_config(settings: Settings) -> dict:
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


def _runtime_context(settings: Settings) -> AbstractDataContext:
    import great_expectations as gx

    gx_output_dir(settings).mkdir(parents=True, exist_ok=True)
    return gx.get_context(mode="ephemeral", project_config=_runtime_config(settings))


def load_suite_json(settings: Settings, name: str) -> dict:
    path = settings.expectations_dir / "expectations" / f"{name}.json"
    return json.loads(path.read_text("utf-8"))


# --- one suite -----------------------------------------------------------------------------------


def _run_suite(
    conn: duckdb.DuckDBPyConnection,
    context: AbstractDataContext,
    settings: Settings,
    name: str,
    *,
    run_id: str,
    checked_at: datetime,
) -> list[CheckResult]:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    source = SUITE_SOURCES[name]
    qualified = find_table(conn, source.table)
    if qualified is None:
        return [_setup_failure(name, "table_exists", f"table {source.table} does not exist", source.table)]
    try:
        frame = conn.execute(source.sql.format(table=qualified)).df()
    except duckdb.Error as exc:
        return [_setup_failure(name, "query_succeeds", f"reading {qualified} failed: {exc}", source.table)]
    try:
        suite = context.suites.add(gx.ExpectationSuite(**load_suite_json(settings, name)))
        datasource = context.data_sources.add_or_update_pandas(f"salesops_{name}")
        asset = datasource.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe("whole_table")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_gate", data=batch, suite=suite)
        )
        outcome = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters={"max_modified_at": checked_at + FUTURE_SKEW},
            result_format={
                "result_format": "COMPLETE",
                "partial_unexpected_count": EXAMPLE_COUNT,
                "unexpected_index_column_names": [c for c in source.key_columns if c in frame.columns],
                "return_unexpected_index_query": False,
            },
            run_id=RunIdentifier(run_name=run_id, run_time=checked_at),
        )
    except Exception as exc:  # a broken suite must not hide the other suites' results
        log.exception("suite %s could not run", name)
        return [_setup_failure(name, "suite_runs", f"{type(exc).__name__}: {exc}", source.table)]
    return [_check_result(name, source.table, len(frame), r) for r in outcome.results]


def _setup_failure(suite: str, expectation: str, reason: str, table: str) -> CheckResult:
    return CheckResult(
        suite=suite,
        expectation=expectation,
        column=None,
        severity="critical",
        success=False,
        observed_value=reason,
        unexpected_count=None,
        description=reason,
        details={"table": table, "reason": reason},
    )


def _check_result(suite: str, table: str, rows: int, r: Any) -> CheckResult:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    meta = config.meta or {}
    severity = str(meta.get("severity") or getattr(config, "severity", None) or "critical").lower()
    result = r.result or {}
    exception = (r.exception_info or {}) if isinstance(r.exception_info, dict) else {}
    error = exception.get("exception_message") if exception.get("raised_exception") else None
    observed = result.get("observed_value")
    if error:
        observed = f"error: {error}"
    elif observed is None and "unexpected_percent" in result:
        pct = result.get("unexpected_percent")
        observed = f"{pct or 0:.2f}% unexpected of {result.get('element_count', rows)}"
    return CheckResult(
        suite=suite,
        expectation=config.type,
        column=_column_of(kwargs),
        severity=severity,
        success=bool(r.success) and not error,
        observed_value=_jsonable(observed),
        unexpected_count=result.get("unexpected_count"),
        unexpected_examples=_examples(result),
        description=getattr(config, "description", None) or "",
        details=_jsonable(
            {
                "table": table,
                "rows": rows,
                "kwargs": {k: v for k, v in kwargs.items() if k != "batch_id"},
                "unexpected_percent": result.get("unexpected_percent"),
                "missing_count": result.get("missing_count"),
                "gx_expectation_id": config.id,
                "error": error,
            }
        ),
    )


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    return None


def _examples(result: dict) -> list:
    """Offending rows with their keys when GX gives them, else offending values."""
    indexed = result.get("partial_unexpected_index_list") or result.get("unexpected_index_list")
    if indexed and isinstance(indexed[0], dict):
        return _jsonable(list(indexed[:EXAMPLE_COUNT]))
    values = result.get("partial_unexpected_list") or []
    return _jsonable(list(values[:EXAMPLE_COUNT]))


def _jsonable(value: Any) -> Any:
    """Plain JSON types for ops.validation_results and the alert (GX hands back numpy/pandas)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        try:
            return _jsonable(value.item())
        except (ValueError, TypeError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


# --- outputs -------------------------------------------------------------------------------------


def _build_data_docs(context: AbstractDataContext, settings: Settings) -> Path | None:
    """Data Docs are a convenience: failing to build them must not fail the gate."""
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE])
    except Exception:
        log.exception("building Data Docs failed")
        return None
    index = gx_output_dir(settings) / "data_docs" / "index.html"
    return index if index.exists() else None


def ensure_validation_results_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.validation_results (
            run_id varchar not null,
            checked_at timestamptz not null,
            suite varchar not null,
            expectation varchar not null,
            column_name varchar,
            severity varchar not null,
            success boolean not null,
            observed_value varchar,
            unexpected_count bigint,
            details json
        )"""
    )


def _store_results(
    conn: duckdb.DuckDBPyConnection, run_id: str, checked_at: datetime, results: Sequence[CheckResult]
) -> None:
    ensure_validation_results_table(conn)
    rows = [
        [
            run_id,
            checked_at,
            r.suite,
            r.expectation,
            r.column,
            r.severity,
            r.success,
            None
            if r.observed_value is None
            else json.dumps(r.observed_value, ensure_ascii=False, default=str),
            r.unexpected_count,
            json.dumps(
                {"description": r.description, "examples": r.unexpected_examples, **r.details},
                ensure_ascii=False,
                default=str,
            ),
        ]
        for r in results
    ]
    if rows:
        conn.executemany(
            """
            insert into ops.validation_results
                (run_id, checked_at, suite, expectation, column_name, severity, success, observed_value,
                 unexpected_count, details)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            rows,
        )


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
