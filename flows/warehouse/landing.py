"""The landing layer: the tables of the working DuckDB warehouse the dbt project reads.

Copies of the marts on other engines (``flows/warehouse/postgres.py``, ``flows/warehouse/spark.py``)
start from exactly these tables: ``raw.*`` (the CRM records as landed), ``config.*`` (targets, plans,
rates, calendar), ``ops.quarantine`` (rows the data-quality gate holds back) and ``finance.*``
(the commission engine's ledger).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

#: What the dbt project reads: schema -> table names (None = every table of the schema).
LANDING: dict[str, tuple[str, ...] | None] = {
    "raw": None,
    "config": None,
    "ops": ("quarantine",),
    "finance": ("commission_lines", "commission_periods", "closed_statement_lines", "commission_warnings"),
}


@dataclass
class CopyResult:
    """Rows copied per ``schema.table`` and tables dropped because DuckDB no longer has them."""

    tables: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass
class Column:
    name: str
    duckdb_type: str

    @property
    def is_nested(self) -> bool:
        t = self.duckdb_type.upper()
        return t.endswith("[]") or t.startswith(("STRUCT", "MAP", "UNION")) or "[" in t


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{ident(schema)}.{ident(table)}"


def landing_tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The (schema, table) pairs of :data:`LANDING` that exist in the DuckDB warehouse."""
    rows = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1, 2"
    ).fetchall()
    found = []
    for schema, table in rows:
        if schema in LANDING and (LANDING[schema] is None or table in LANDING[schema]):  # type: ignore[operator]
            found.append((schema, table))
    return found


def landing_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[Column]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? and table_catalog = current_database() "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [Column(name, dtype) for name, dtype in rows]
