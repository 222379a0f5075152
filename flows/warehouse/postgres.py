"""Build the marts on PostgreSQL: copy the landing layer there, then ``dbt build --target pg``.

The pipeline's working warehouse is DuckDB. For teams whose BI tools speak PostgreSQL, the same
dbt project builds on a PostgreSQL database from a copy of what dbt reads as its inputs
(:data:`LANDING`):

* ``raw.*``       the CRM records as landed (``flows/crm/landing.py``),
* ``config.*``    targets, plans, rates and the calendar (``flows/config/loader.py``),
* ``ops.quarantine``  the rows the data-quality gate holds back (staging excludes them),
* ``finance.*``   the commission engine's ledger (``flows/commissions``), read by ``fct_commissions``.

The copy streams each table from DuckDB in chunks of rows into ``COPY ... FROM STDIN`` and
runs in one PostgreSQL transaction: readers see either the previous copy or the new one. Each
table is replaced (truncated and refilled, or dropped and recreated when its columns changed)
and tables that no longer exist in DuckDB are dropped, so rerunning is idempotent. Connection
settings are ``SALESOPS_PG_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD`` and ``_DATABASE``; the
password is never logged.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import duckdb

from flows.config.settings import Settings, patched_environ
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import DbtRunResult, run_dbt
from flows.warehouse.landing import (
    LANDING,
    Column,
    CopyResult,
    ident,
    landing_columns,
    landing_tables,
    qualified,
)

log = logging.getLogger(__name__)

#: Rows per COPY chunk; only one chunk is held in memory at a time.
CHUNK_ROWS = 10_000


_SIMPLE_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric(39, 0)",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
    "JSON": "jsonb",
    "BLOB": "bytea",
}


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL column type for a DuckDB one; nested types travel as ``jsonb``."""
    t = duckdb_type.upper().strip()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "numeric").replace(",", ", ")
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    if t.startswith("TIMESTAMP"):
        return "timestamptz" if "TIME ZONE" in t else "timestamp"
    if Column("", t).is_nested:
        return "jsonb"
    return "text"


def _text_field(value: str | None) -> str:
    """One value in PostgreSQL's COPY text format (``\\N`` is null)."""
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _chunks(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, columns: list[Column]
) -> Iterator[tuple[str, int]]:
    """The table as COPY text and its row count, ``CHUNK_ROWS`` rows at a time (DuckDB streams
    the result). DuckDB renders every value as text: exact decimals, ISO dates, timestamps with
    their offset, JSON text; nested values as JSON."""
    exprs = []
    for col in columns:
        source = ident(col.name)
        if col.is_nested:
            exprs.append(f"cast(to_json({source}) as varchar)")
        elif col.duckdb_type.upper() == "BLOB":
            exprs.append(f"'\\x' || hex({source})")
        else:
            exprs.append(f"cast({source} as varchar)")
    cursor = conn.execute(f"select {', '.join(exprs)} from {qualified(schema, table)}")
    while rows := cursor.fetchmany(CHUNK_ROWS):
        yield "".join("\t".join(_text_field(v) for v in row) + "\n" for row in rows), len(rows)


def _pg_columns(cur, schema: str, table: str) -> list[tuple[str, str]] | None:
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and c.relkind = 'r' and a.attnum > 0 "
        "and not a.attisdropped order by a.attnum",
        (schema, table),
    )
    rows = cur.fetchall()
    return rows or None


def _normalise(pg: str) -> str:
    return (
        pg.replace(" ", "")
        .replace("timestampwithtimezone", "timestamptz")
        .replace("timestampwithouttimezone", "timestamp")
    )


def connect_postgres(settings: Settings):
    """A psycopg2 connection to the database of ``SALESOPS_PG_*`` (autocommit off)."""
    import psycopg2

    return psycopg2.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        user=settings.pg_user,
        password=settings.pg_password.get_secret_value() if settings.pg_password else None,
        dbname=settings.pg_database,
        connect_timeout=15,
        application_name="salesops",
    )


def copy_landing(duck: duckdb.DuckDBPyConnection, pg_conn) -> CopyResult:
    """Replace the landing tables in PostgreSQL with those of ``duck``, in one transaction."""
    result = CopyResult()
    tables = landing_tables(duck)
    try:
        with pg_conn.cursor() as cur:
            for schema in LANDING:
                cur.execute(f"create schema if not exists {ident(schema)}")
            # Tables DuckDB no longer has (a CRM switched off, a config file removed) go too.
            cur.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE' and table_schema = any(%s)",
                (list(LANDING),),
            )
            wanted = set(tables)
            for schema, table in cur.fetchall():
                listed = LANDING[schema]
                if (schema, table) not in wanted and (listed is None or table in listed):
                    cur.execute(f"drop table {qualified(schema, table)} cascade")
                    result.dropped.append(f"{schema}.{table}")
            for schema, table in tables:
                columns = landing_columns(duck, schema, table)
                target = qualified(schema, table)
                existing = _pg_columns(cur, schema, table)
                wanted_cols = [(c.name, pg_type(c.duckdb_type)) for c in columns]
                if existing is not None and [(n, _normalise(t)) for n, t in existing] == [
                    (n, _normalise(t)) for n, t in wanted_cols
                ]:
                    # Same shape: keep the table (and the dbt views built on it), swap the rows.
                    cur.execute(f"truncate table {target}")
                else:
                    if existing is not None:
                        # dbt's staging views on it are dropped with it; the dbt build recreates them.
                        cur.execute(f"drop table {target} cascade")
                    ddl = ", ".join(f"{ident(n)} {t}" for n, t in wanted_cols)
                    cur.execute(f"create table {target} ({ddl})")
                copy_sql = f"copy {target} from stdin with (format text)"
                rows = 0
                for chunk, count in _chunks(duck, schema, table, columns):
                    cur.copy_expert(copy_sql, io.StringIO(chunk))
                    rows += count
                result.tables[f"{schema}.{table}"] = rows
                log.info("copied %s rows of %s.%s to PostgreSQL", rows, schema, table)
            if tables:  # fresh statistics for the dbt build that follows
                cur.execute(f"analyze {', '.join(qualified(s, t) for s, t in tables)}")
        pg_conn.commit()
    except BaseException:
        pg_conn.rollback()
        raise
    return result


def copy_warehouse(settings: Settings) -> CopyResult:
    """Copy the landing layer of the working DuckDB warehouse into ``SALESOPS_PG_DATABASE``."""
    pg_conn = connect_postgres(settings)
    try:
        with Warehouse(settings.warehouse_path).connect() as duck:
            return copy_landing(duck, pg_conn)
    finally:
        pg_conn.close()


@contextmanager
def pg_environment(settings: Settings) -> Iterator[None]:
    """profiles.yml's ``pg`` output reads SALESOPS_PG_*; set them from ``settings`` for dbt."""
    env = {
        "SALESOPS_PG_HOST": settings.pg_host,
        "SALESOPS_PG_PORT": str(settings.pg_port),
        "SALESOPS_PG_USER": settings.pg_user,
        "SALESOPS_PG_DATABASE": settings.pg_database,
        "SALESOPS_PG_PASSWORD": settings.pg_password.get_secret_value() if settings.pg_password else "",
    }
    with patched_environ(env):
        yield


def build_on_postgres(
    settings: Settings,
    *,
    run_date: date | None = None,
    select: Sequence[str] = (),
    copy: bool = True,
    raise_on_failure: bool = True,
) -> tuple[CopyResult | None, DbtRunResult]:
    """Copy the landing layer (unless ``copy`` is False), then ``dbt build --target pg``."""
    copied = copy_warehouse(settings) if copy else None
    command = ["build", "--target", "pg"]
    for item in select:
        command += ["--select", item]
    with pg_environment(settings):
        result = run_dbt(settings, command, run_date=run_date, raise_on_failure=raise_on_failure)
    return copied, result
