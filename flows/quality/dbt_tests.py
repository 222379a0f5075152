"""dbt's test outcomes as gate checks: the marts rules whose one home is a dbt test.

``dbt build`` runs the data tests right after each model, before the marts gate; the on-run-end
hook ``record_test_results`` (dbt_project/macros/test_results.sql) keeps each test's latest
outcome in ``ops.dbt_test_results``. The gate reports them under the suite of the model they test
(:attr:`flows.quality.sources.SuiteSource.dbt_model`), and the dbt singular tests whose
``meta.gate_suite`` names a suite (the cross-table reconciliations) under that suite, so
``ops.validation_results``, the Data Docs and the alert show every check whichever tool ran it.
dbt ``error`` is *critical*, ``warn`` a *warning*, unless ``meta.gate_severity`` says otherwise (the
reconciliations are ``warn`` in dbt, so that ``dbt build`` goes on to the gate, and *critical* in
the gate, which then sends the data-quality alert as before); a test whose model failed (``skipped``) or whose
SQL failed (``error``) did not pass. docs/quality.md lists which check lives where.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from flows.quality.gx_runtime import validate
from flows.quality.results import EXAMPLE_COUNT, CheckResult, jsonable
from flows.quality.sources import SuiteSource
from flows.quality.tables import find_table, table_exists

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

#: dbt test severity -> gate severity.
SEVERITIES = {"error": "critical", "warn": "warning"}
#: The statement mart whose closed periods are snapshotted for assert_closed_statements_unchanged.
STATEMENTS = "fct_commission_statements"

_COLUMNS = (
    "unique_id, test_name, attached_node, column_name, severity, status, failures, message, meta, "
    "description, kwargs, relation_name, invocation_id, recorded_at"
)


def dbt_checks(conn: duckdb.DuckDBPyConnection, name: str, source: SuiteSource) -> list[CheckResult]:
    """The recorded dbt tests of one suite as check results (a warning when none were recorded)."""
    if source.layer != "marts" or not (source.dbt_model or source.cross_table):
        return []
    if not source.cross_table and find_table(conn, source.table) is None:
        return []  # the suite's table_exists failure says it all
    rows = _recorded(conn, name, source)
    if not rows:
        return [_not_recorded(name, source)]
    return [_check(conn, name, source, row) for row in rows]


def add_to_data_docs(
    context: AbstractDataContext, name: str, results: list[CheckResult], run_id: str, checked_at: datetime
) -> None:
    """Put a suite's dbt checks in the Data Docs too, as the GX validation ``<suite>__dbt``.

    One row with each test's dbt status, one ``status in {pass}`` expectation per test carrying the
    check's description and severity: the Data Docs page lists the same checks as the alert.
    """
    checks = [r for r in results if r.details.get("dbt_unique_id")]
    if not checks:
        return
    frame = pd.DataFrame([{_doc_column(r): r.details["dbt_status"] for r in checks}])
    expectations = [
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": _doc_column(r), "value_set": ["pass"]},
            "meta": {"severity": r.severity, "source": "dbt", "dbt_unique_id": r.details["dbt_unique_id"]},
            "description": r.description,
        }
        for r in checks
    ]
    spec = {"name": f"{name}__dbt", "meta": {"source": "dbt tests (ops.dbt_test_results)"}}
    table = checks[0].details.get("table") or name
    validate(context, f"{name}__dbt", spec, expectations, [frame], (), {}, run_id, checked_at, table)


def _doc_column(r: CheckResult) -> str:
    return str(r.details["dbt_unique_id"]).split(".")[2]


def _recorded(conn: duckdb.DuckDBPyConnection, name: str, source: SuiteSource) -> list[dict[str, Any]]:
    if not table_exists(conn, "ops", "dbt_test_results"):
        return []
    cursor = conn.execute(
        f"""
        select {_COLUMNS} from ops.dbt_test_results
        where split_part(nullif(attached_node, ''), '.', 3) = ?
            or json_extract_string(meta, '$.gate_suite') = ?
        order by test_name, column_name, unique_id
        """,
        [source.dbt_model, name],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def _not_recorded(name: str, source: SuiteSource) -> CheckResult:
    reason = "no dbt test results recorded (ops.dbt_test_results): run dbt build"
    return CheckResult(
        suite=name,
        expectation="dbt_tests_recorded",
        column=None,
        severity="warning",
        success=False,
        observed_value=reason,
        unexpected_count=None,
        description=f"dbt tests of {source.dbt_model or name} (not checked: {reason})",
        details={"table": source.table, "reason": reason, "source": "dbt", "skipped": True},
    )


def _check(conn: duckdb.DuckDBPyConnection, name: str, source: SuiteSource, row: dict) -> CheckResult:
    meta = json.loads(row["meta"] or "{}")
    kwargs = {k: v for k, v in json.loads(row["kwargs"] or "{}").items() if k != "model"}
    status = str(row["status"])
    failures = row["failures"]
    examples = _examples(conn, row["relation_name"]) if status in ("fail", "warn") else []
    return CheckResult(
        suite=name,
        expectation=row["test_name"],
        column=row["column_name"] or meta.get("column") or _columns_of(kwargs),
        severity=meta.get("gate_severity") or SEVERITIES.get(str(row["severity"]).lower(), "critical"),
        success=status == "pass",
        observed_value=_observed(conn, status, failures, row, meta),
        unexpected_count=None if failures is None or status in ("error", "skipped") else int(failures),
        unexpected_examples=examples,
        description=meta.get("description") or _describe(row, kwargs),
        details=jsonable(
            {
                "table": source.table if not source.cross_table else "marts (cross-table)",
                "source": "dbt",
                "dbt_unique_id": row["unique_id"],
                "dbt_status": status,
                "dbt_severity": row["severity"],
                "message": row["message"],
                "kwargs": kwargs,
                "meta": meta,
                "invocation_id": row["invocation_id"],
                "recorded_at": row["recorded_at"],
            }
        ),
    )


def _observed(conn: duckdb.DuckDBPyConnection, status: str, failures: Any, row: dict, meta: dict) -> Any:
    """The failing rows (or the largest difference, ``meta.observed``), dbt's message on an error."""
    if status in ("error", "skipped"):
        return f"{status}: {row['message'] or 'the test did not run'}"
    if meta.get("observed") and row["relation_name"] and status != "pass":
        try:
            value = conn.execute(f"select max({meta['observed']}) from {row['relation_name']}").fetchall()
            return jsonable(float(value[0][0])) if value and value[0][0] is not None else None
        except duckdb.Error:
            log.warning("could not read %s", row["relation_name"])
    return int(failures or 0)


def _examples(conn: duckdb.DuckDBPyConnection, relation: str | None) -> list:
    """The first failing rows dbt stored (``store_failures``), as dicts."""
    if not relation:
        return []
    try:
        cursor = conn.execute(f"select * from {relation} limit {EXAMPLE_COUNT}")
    except duckdb.Error:
        return []
    names = [d[0] for d in cursor.description]
    return jsonable([dict(zip(names, r, strict=True)) for r in cursor.fetchall()])


def _columns_of(kwargs: dict) -> str | None:
    cols = kwargs.get("columns") or kwargs.get("column_names")
    return ",".join(cols) if isinstance(cols, list) else None


def _describe(row: dict, kwargs: dict) -> str:
    """``dbt expression_is_true(win_rate is null or ...) on fct_rep_scorecard``."""
    model = str(row["attached_node"] or "").rsplit(".", 1)[-1]
    detail = kwargs.get("expression") or row["column_name"] or _columns_of(kwargs) or ""
    text = f"dbt {row['test_name']}({' '.join(str(detail).split())})" if detail else f"dbt {row['test_name']}"
    return f"{text} on {model}" if model else text


def record_closed_statements(conn: duckdb.DuckDBPyConnection) -> None:
    """Remember the total of every statement seen closed for the first time (never overwritten).

    ``assert_closed_statements_unchanged`` compares the closed statements against these rows at
    the next dbt build; finance reopens a period on purpose by deleting its snapshot rows.
    """
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.closed_statement_snapshots (
            statement_table varchar not null,
            statement_key varchar not null,
            total_amount decimal(38, 6),
            recorded_at timestamptz not null
        )"""
    )
    qualified = find_table(conn, f"marts.{STATEMENTS}")
    if qualified is None:
        return
    try:
        conn.execute(
            f"""
            insert into ops.closed_statement_snapshots
            select ?, cast(c.statement_id as varchar), c.total_amount, now() from {qualified} as c
            where c.period_status = 'closed' and not exists (
                select 1 from ops.closed_statement_snapshots as s
                where s.statement_table = ? and s.statement_key = cast(c.statement_id as varchar)
            )
            """,
            [STATEMENTS, STATEMENTS],
        )
    except duckdb.BinderException:  # no period_status / total_amount yet: nothing closed to keep
        log.info("marts.%s has no period_status or total_amount: no closed statements recorded", STATEMENTS)
