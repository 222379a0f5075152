"""One GX suite over its table: table-level checks on the SQL aggregates, row-level checks on a
narrow frame read in chunks, escalation of quarantining checks, and the quarantine itself.

Row-level checks see only the rows in scope (``row_scope``): ``"run"`` = the rows this run landed
or changed plus the rows still quarantined, ``"all"`` = every live row. A quarantining check is a
*warning* until its offending rows exceed ``meta.critical_share`` of the table's live rows; then
the problem is systemic and the check becomes *critical* (docs/quality.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from flows.config.settings import Settings
from flows.quality import quarantine as quarantine_store
from flows.quality.aggregates import raw_table_level
from flows.quality.gx_runtime import (
    chunks,
    expectation_columns,
    expectation_frame,
    load_suite_json,
    parameter_names,
    validate,
)
from flows.quality.reference import reference_relations
from flows.quality.results import CheckResult, jsonable, setup_failure, skipped
from flows.quality.sources import SuiteSource
from flows.quality.tables import columns, find_table, table_exists, table_expected

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

#: Default share of a table's live rows above which a quarantining check becomes critical.
DEFAULT_CRITICAL_SHARE = 0.01
ROW_SCOPES = ("all", "run")
_LIVE = "not coalesce(d.is_deleted, false)"


@dataclass
class SuiteRun:
    """What one suite run needs besides its source: the gate run's shared state."""

    conn: duckdb.DuckDBPyConnection
    context: AbstractDataContext
    settings: Settings
    run_id: str
    checked_at: datetime
    params: dict[str, Any]
    row_scope: str


def run_suite(
    run: SuiteRun, name: str, source: SuiteSource
) -> tuple[list[CheckResult], dict[str, int] | None]:
    """The suite's check results and, for a quarantining suite, its quarantine counts."""
    if source.cross_table:
        return [], None  # dbt singular tests only (flows.quality.dbt_tests)
    qualified = find_table(run.conn, source.table)
    if qualified is None:
        if table_expected(run.conn, run.settings, source.table):
            reason = f"table {source.table} does not exist"
            return [setup_failure(name, "table_exists", reason, source.table)], None
        log.info("suite %s skipped: %s does not exist and is not expected", name, source.table)
        return [], None
    try:
        spec = load_suite_json(run.settings, source.json_name or name)
    except (OSError, ValueError) as exc:
        return [setup_failure(name, "suite_loads", f"{type(exc).__name__}: {exc}", source.table)], None
    if source.json_name:
        spec = {**spec, "name": name}
    results, usable = _usable_expectations(run, name, source, spec["expectations"])
    sql_template = source.sql
    if sql_template is None and source.columns:
        sql_template, usable = _mart_frame(run.conn, name, source, qualified, usable, results)
    table_exps = [e for e in usable if expectation_frame(e) == "table"]
    row_exps = [e for e in usable if expectation_frame(e) != "table"]
    table_row: dict[str, Any] = {}
    if source.table_level and table_exps:
        try:
            table_row = raw_table_level(run.conn, source, qualified, run.run_id, run.checked_at)
        except duckdb.Error as exc:
            reason = f"aggregating {qualified} failed: {exc}"
            return [*results, setup_failure(name, "query_succeeds", reason, source.table)], None
        results += _table_checks(run, name, source, spec, table_exps, table_row)
    if not (sql_template and row_exps):
        return results, None
    row_results, evaluated = _row_checks(run, name, source, spec, row_exps, sql_template, qualified)
    if any(r.expectation == "suite_runs" for r in row_results) and not evaluated:
        return results + row_results, None
    row_results = [escalate(r, table_row.get("live_rows")) for r in row_results]
    qcounts = None
    if source.quarantine:
        qcounts = quarantine_offenders(run, name, source, evaluated, row_results)
    return results + row_results, qcounts


def _usable_expectations(
    run: SuiteRun, name: str, source: SuiteSource, expectations: list[dict]
) -> tuple[list[CheckResult], list[dict]]:
    """Expectations whose reference data is there; the others as 'not checked' warnings."""
    results: list[CheckResult] = []
    usable: list[dict] = []
    for exp in expectations:
        needs = parameter_names(exp.get("kwargs", {})) | set((exp.get("meta") or {}).get("requires") or [])
        missing = sorted(p for p in needs if run.params.get(p) is None)
        if missing:
            results.append(skipped(name, source.table, exp, f"reference data missing: {', '.join(missing)}"))
        else:
            usable.append(exp)
    return results, usable


def _mart_frame(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    source: SuiteSource,
    qualified: str,
    usable: list[dict],
    results: list[CheckResult],
) -> tuple[str | None, list[dict]]:
    """A mart's frame query over the columns it has; expectations on absent columns become warnings."""
    present = set(columns(conn, qualified))
    picked = [c for c in source.columns if c in present]
    picked += [f"{expr} as {col}" for col, expr, needs in source.computed if set(needs) <= present]
    readable = {c for c in source.columns if c in present} | {
        col for col, _, needs in source.computed if set(needs) <= present
    }
    kept = []
    for exp in usable:
        absent = sorted(c for c in expectation_columns(exp) if c not in readable)
        if absent and expectation_frame(exp) != "table":
            results.append(
                skipped(name, source.table, exp, f"column(s) {', '.join(absent)} not in the table")
            )
        else:
            kept.append(exp)
    sql = f"select {', '.join(picked) or '1 as no_columns'} from {{table}}" if picked else None
    return sql, kept


def _table_checks(
    run: SuiteRun, name: str, source: SuiteSource, spec: dict, exps: list[dict], table_row: dict
) -> list[CheckResult]:
    frame = [pd.DataFrame([table_row])]
    results = validate(
        run.context,
        f"{name}__table",
        spec,
        exps,
        frame,
        (),
        run.params,
        run.run_id,
        run.checked_at,
        source.table,
    )
    for r in results:  # the aggregate itself is the observation, plus its context
        if r.column in table_row:
            r.observed_value = jsonable(table_row[r.column])
            r.unexpected_examples = []
            r.unexpected_count = None
            r.details["table_level"] = jsonable(table_row)
    return results


def _row_checks(
    run: SuiteRun,
    name: str,
    source: SuiteSource,
    spec: dict,
    exps: list[dict],
    sql_template: str,
    qualified: str,
) -> tuple[list[CheckResult], list[str]]:
    """Row-level results and the ids evaluated (a quarantined row not offending any more is released)."""
    where = scope_predicate(run.conn, source, run.row_scope)
    sql = sql_template.format(table=qualified, where=where, **reference_relations(run.conn, run.settings))
    evaluated: list[str] = []
    parameters = {"run_id": run.run_id} if "$run_id" in where else None

    def frames() -> Iterator[pd.DataFrame]:
        for frame in chunks(run.conn, sql, parameters):
            if "id" in frame.columns:
                evaluated.extend(str(i) for i in frame["id"].tolist())
            yield frame

    results = validate(
        run.context,
        name,
        spec,
        exps,
        frames(),
        source.key_columns,
        run.params,
        run.run_id,
        run.checked_at,
        source.table,
    )
    return results, evaluated


def scope_predicate(conn: duckdb.DuckDBPyConnection, source: SuiteSource, row_scope: str) -> str:
    if source.layer != "raw":
        return "true"
    if row_scope == "all":
        return _LIVE
    table_name = source.table.split(".", 1)[1]
    held = ""
    if table_exists(conn, "ops", "quarantine"):
        held = (
            " or d.id in (select id from ops.quarantine where raw_table = "
            f"'{table_name}' and released_at is null)"
        )
    return f"{_LIVE} and (d.run_id = $run_id{held})"


def escalate(result: CheckResult, live_rows: Any) -> CheckResult:
    """A quarantining check is a warning until its offending rows exceed ``critical_share`` of the table."""
    meta = result.details.get("meta") or {}
    if not meta.get("quarantine") or result.success:
        return result
    share_limit = float(meta.get("critical_share", DEFAULT_CRITICAL_SHARE))
    denominator = max(int(live_rows or 0), int(result.details.get("rows") or 0), 1)
    share = (result.unexpected_count or 0) / denominator
    result.details["offending_share"] = round(share, 6)
    if share > share_limit:
        result.severity = "critical"
        result.details["escalated"] = True
        result.description = (
            f"{result.description} — {share:.1%} of rows (> {share_limit:.0%}): systemic, blocks the run"
        )
    else:
        result.severity = "warning"
        result.description = f"{result.description} — rows quarantined"
    return result


def quarantine_offenders(
    run: SuiteRun, name: str, source: SuiteSource, evaluated: list[str], results: list[CheckResult]
) -> dict[str, int]:
    """Hold back the rows the quarantining checks found; release evaluated rows that pass again."""
    offences: list[quarantine_store.Offence] = []
    checked: set[str] = set()
    for r in results:
        if not (r.details.get("meta") or {}).get("quarantine"):
            continue
        checked.add(r.key)
        if r.success or r.details.get("error"):
            continue
        offences += [
            _offence(r, row) for row in r.offending if isinstance(row, dict) and row.get("id") is not None
        ]
    source_name, obj = source.source_object
    counts = quarantine_store.apply_quarantine(
        run.conn,
        run_id=run.run_id,
        source=source_name,
        obj=obj,
        raw_table=source.table,
        evaluated_ids=evaluated,
        offences=offences,
        checked_expectations=checked,
        now=run.checked_at,
    )
    if counts["quarantined"] or counts["released"]:
        log.warning("suite %s: %s", name, counts)
    return counts


def _offence(r: CheckResult, row: dict) -> quarantine_store.Offence:
    base = (r.details.get("base_description") or r.description or r.expectation).strip()
    reason = f"{base}: {r.column}={jsonable(row.get(r.column))!r}" if r.column else base
    return quarantine_store.Offence(str(row["id"]), r.key, reason, r.severity)
