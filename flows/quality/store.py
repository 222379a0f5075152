"""``ops.validation_results``: every check of every gate run, one row each (GX and dbt alike)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import duckdb

from flows.quality.results import CheckResult


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


def store_results(
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
