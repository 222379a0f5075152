"""Build the marts on Apache Spark: land the landing layer as Parquet, then ``dbt build --target spark``.

For a company too big for one machine the same dbt project runs on Spark (docs/architecture.md,
"Which engine for which company"). What dbt reads (:data:`flows.warehouse.landing.LANDING`:
``raw.*``, ``config.*``, ``ops.quarantine``, ``finance.*``) is written from the working DuckDB
warehouse as one Parquet file per table with DuckDB's ``COPY ... TO`` (streamed, bounded memory),
under ``<landing>/<schema>/<table>/``; the dbt macro ``spark_register_landing`` then declares each
directory as an external Parquet table of the Spark catalog, and ``dbt build --target spark`` runs.

Each file is written beside its table directory and renamed into it, tables DuckDB no longer has
are removed (files and catalog entry), so rerunning is idempotent. JSON travels as text, nested
values as JSON text, timestamps with time zone as Parquet UTC instants, decimals as decimals.

``SALESOPS_SPARK_METHOD=session`` (the default) runs Spark in this process (``pyspark``, local
mode, a Derby metastore and the warehouse directory under ``<SALESOPS_HOME>/spark/``);
``thrift`` or ``http`` reach a cluster (``dbt_project/profiles.yml``), which must be able to read
``SALESOPS_SPARK_LANDING``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from flows.config.settings import Settings
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

#: Rows per Parquet row group: what DuckDB holds in memory per table while writing.
ROW_GROUP_ROWS = 100_000

#: Spark settings of the local session (``SALESOPS_SPARK_METHOD=session``): small and bounded.
LOCAL_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}

#: Types Spark's Parquet reader cannot take as DuckDB writes them: sent as these instead.
_CASTS = {
    "HUGEINT": "decimal(38, 0)",
    "UBIGINT": "decimal(20, 0)",
    "UINTEGER": "bigint",
    "USMALLINT": "integer",
    "UTINYINT": "smallint",
    "JSON": "varchar",
    "UUID": "varchar",
    "INTERVAL": "varchar",
    "TIME": "varchar",
    "TIME WITH TIME ZONE": "varchar",
}


@dataclass(frozen=True)
class SparkPlace:
    """Where the Spark copy lives: the landing Parquet files and, for the local session, the
    catalog (Derby metastore) and the warehouse directory of the tables dbt builds."""

    landing: str
    local_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> SparkPlace:
        local = settings.home_dir / "spark"
        landing = os.environ.get("SALESOPS_SPARK_LANDING") or str(local / "landing")
        return cls(landing=landing.rstrip("/"), local_dir=local)

    @property
    def warehouse_dir(self) -> Path:
        return self.local_dir / "warehouse"


def _select_expr(col: Column) -> str:
    source = ident(col.name)
    t = col.duckdb_type.upper()
    if col.is_nested:
        return f"cast(to_json({source}) as varchar) as {source}"
    if t in _CASTS:
        return f"cast({source} as {_CASTS[t]}) as {source}"
    return source


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_table(duck: duckdb.DuckDBPyConnection, schema: str, table: str, landing: Path) -> int:
    """One landing table as ``<landing>/<schema>/<table>/data.parquet``; returns its row count."""
    columns = landing_columns(duck, schema, table)
    table_dir = landing / schema / table
    table_dir.mkdir(parents=True, exist_ok=True)
    staged = landing / schema / f".{table}.parquet.tmp"
    select = ", ".join(_select_expr(c) for c in columns)
    duck.execute(
        f"copy (select {select} from {qualified(schema, table)}) to {_literal(str(staged))} "
        f"(format parquet, compression zstd, row_group_size {ROW_GROUP_ROWS})"
    )
    # Spark skips files whose name starts with '.' or '_': the staged file is invisible until renamed.
    os.replace(staged, table_dir / "data.parquet")
    for other in table_dir.iterdir():
        if other.name != "data.parquet":
            shutil.rmtree(other) if other.is_dir() else other.unlink()
    return duck.execute(f"select count(*) from {qualified(schema, table)}").fetchone()[0]


def copy_landing(duck: duckdb.DuckDBPyConnection, landing: Path) -> CopyResult:
    """Write the landing tables of ``duck`` under ``landing``; remove those DuckDB no longer has."""
    result = CopyResult()
    tables = landing_tables(duck)
    wanted = set(tables)
    for schema, listed in LANDING.items():
        schema_dir = landing / schema
        if not schema_dir.is_dir():
            continue
        for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
            name = table_dir.name
            if (schema, name) not in wanted and (listed is None or name in listed):
                shutil.rmtree(table_dir)
                result.dropped.append(f"{schema}.{name}")
    duck.execute("set preserve_insertion_order = false")  # streams the COPY in bounded memory
    for schema, table in tables:
        rows = write_table(duck, schema, table, landing)
        result.tables[f"{schema}.{table}"] = rows
        log.info("wrote %s rows of %s.%s as Parquet", rows, schema, table)
    return result


def copy_warehouse(settings: Settings) -> CopyResult:
    """The landing layer of the working DuckDB warehouse as Parquet under the Spark landing path."""
    place = SparkPlace.of(settings)
    if "://" in place.landing and not place.landing.startswith("file://"):
        raise ValueError(
            f"SALESOPS_SPARK_LANDING={place.landing}: the copy writes to a local or mounted path; "
            "mount the cluster's storage (or copy the files there) and give its path"
        )
    landing = Path(place.landing.removeprefix("file://"))
    with Warehouse(settings.warehouse_path).connect() as duck:
        return copy_landing(duck, landing)


def spark_method() -> str:
    return os.environ.get("SALESOPS_SPARK_METHOD", "session")


def local_session(settings: Settings):
    """The in-process Spark session dbt-spark's ``session`` method picks up (``getOrCreate``):
    local mode, two cores, no UI, a Derby metastore and warehouse under ``<home>/spark/``, the
    driver's memory bounded by ``SALESOPS_SPARK_DRIVER_MEMORY`` (default 6g: analysing the
    stacked views of the scorecard marts ran out of a 1g heap)."""
    from pyspark.sql import SparkSession

    place = SparkPlace.of(settings)
    place.local_dir.mkdir(parents=True, exist_ok=True)
    metastore = place.local_dir / "metastore_db"
    builder = SparkSession.builder.appName("salesops").enableHiveSupport()
    conf = LOCAL_CONF | {
        "spark.driver.memory": os.environ.get("SALESOPS_SPARK_DRIVER_MEMORY", "6g"),
        "spark.sql.warehouse.dir": str(place.warehouse_dir),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore};create=true",
        # derby.log goes there too, not into the current directory
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={place.local_dir}",
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def register_landing(settings: Settings, copied: CopyResult, *, run_date: date | None = None) -> DbtRunResult:
    """Declare every landed table as an external Parquet table of the Spark catalog and drop the
    catalog's landing tables that were not landed, through dbt so that it works on every
    connection method."""
    place = SparkPlace.of(settings)
    args = {
        "location": place.landing,
        "tables": sorted(copied.tables),
        "landing": {schema: list(listed) if listed else None for schema, listed in LANDING.items()},
    }
    command = ["run-operation", "spark_register_landing", "--target", "spark", "--args", json.dumps(args)]
    return run_dbt(settings, command, run_date=run_date)


def build_on_spark(
    settings: Settings,
    *,
    run_date: date | None = None,
    select: Sequence[str] = (),
    copy: bool = True,
    raise_on_failure: bool = True,
) -> tuple[CopyResult | None, DbtRunResult]:
    """Land the Parquet copy (unless ``copy`` is False) and register it, then ``dbt build --target spark``."""
    if spark_method() == "session":
        local_session(settings)
    copied = None
    if copy:
        copied = copy_warehouse(settings)
        register_landing(settings, copied, run_date=run_date)
    command = ["build", "--target", "spark"]
    for item in select:
        command += ["--select", item]
    result = run_dbt(settings, command, run_date=run_date, raise_on_failure=raise_on_failure)
    return copied, result
