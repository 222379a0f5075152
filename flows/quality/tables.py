"""Finding the warehouse tables a suite checks, and whether a missing one is a failure."""

from __future__ import annotations

import glob
from pathlib import Path

import duckdb

from flows.config.settings import Settings

#: dbt writes marts to ``marts`` (custom schema name) or ``main_marts`` (dbt-duckdb default).
MARTS_SCHEMAS: tuple[str, ...] = ("marts", "main_marts")


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


def table_expected(conn: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> bool:
    """Whether a missing ``table`` is a failure.

    A raw table is expected once its object has been landed successfully (``ops.ingest_runs``): a
    CRM that is disabled or never ingested is not an error, a landed table that vanished is. A mart
    is expected when the dbt project has a model of that name.
    """
    schema, name = table.split(".", 1)
    if schema == "raw":
        if not table_exists(conn, "ops", "ingest_runs"):
            return True  # no bookkeeping at all: cannot tell, so insist
        source, _, obj = name.partition("_")
        row = conn.execute(
            "select count(*) from ops.ingest_runs where source = ? and object = ? and status = 'succeeded'",
            [source, obj],
        ).fetchall()[0]
        return bool(row and row[0])
    return bool(model_files(settings, name))


def model_files(settings: Settings, pattern: str) -> list[Path]:
    """dbt model files named ``<pattern>.sql`` (glob pattern) anywhere under ``models/``."""
    root = settings.dbt_project_dir / "models"
    return [Path(p) for p in sorted(glob.glob(str(root / "**" / f"{pattern}.sql"), recursive=True))]


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0]
    return bool(row and row[0])


def columns(conn: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """The columns of ``"schema"."table"`` in table order."""
    schema, name = (p.strip('"') for p in qualified.split(".", 1))
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]
