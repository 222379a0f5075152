"""The dbt project on local Apache Spark, against the DuckDB build of the same data.

A DuckDB working warehouse is produced the way the nightly pipeline does it, on a small sandbox
company (both CRMs ingested over HTTP through the real connectors, one deal quarantined, config
loaded, ``dbt build``, the commission engine). ``flows.warehouse.spark`` writes the landing layer
as Parquet, registers it in a local Spark catalog and runs ``dbt build --target spark`` in this
process (dbt-spark's ``session`` method). Every mart row must be the same on both engines, and
the sum of every DECIMAL column to its last digit. The marts are read back from the Parquet files
Spark wrote (by DuckDB, so both sides are read by one reader).

Needs a Java runtime (``make test`` installs Debian's ``openjdk-17-jre-headless`` through
``make java``) and ``pyspark`` + ``dbt-spark[session]`` (the dev extras): when missing the tests fail.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from reference_warehouse_support import build_reference_warehouse, duck_query
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config.settings import Settings, patched_environ
from flows.warehouse.spark import SparkPlace, build_on_spark

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

RUN_DATE = date(2026, 11, 28)

KEY_MARTS = ["fct_deals", "fct_sales_targets", "fct_rep_scorecard", "fct_commissions", "dim_sales_reps"]


@pytest.fixture(scope="module")
def duck(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("spark_home")
    settings, _ = build_reference_warehouse(home, deals=120, run_id="spark-test", run_date=RUN_DATE)
    return settings


@pytest.fixture(scope="module")
def spark_built(duck: Settings):
    started = time.monotonic()
    with patched_environ({"SALESOPS_SPARK_METHOD": "session", "SALESOPS_SPARK_LANDING": ""}):
        copied, result = build_on_spark(duck, run_date=RUN_DATE, raise_on_failure=False)
    seconds = time.monotonic() - started
    yield copied, result, seconds
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def _spark_mart(settings: Settings, mart: str) -> str:
    """The Parquet files of a mart as Spark wrote them, as a DuckDB table expression."""
    folder = SparkPlace.of(settings).warehouse_dir / "marts.db" / mart
    assert folder.is_dir(), f"{mart}: no table folder {folder}"
    files = sorted(str(p) for p in Path(folder).glob("*.parquet"))
    assert files, f"{mart}: no Parquet file in {folder}"
    return f"read_parquet({files!r})"


def _spark_query(sql: str) -> list[tuple]:
    with duckdb.connect() as conn:
        conn.execute("set TimeZone = 'UTC'")
        return conn.execute(sql).fetchall()


def _normalised(value):
    """One cell comparable across engines: numbers as decimals to 6 places, timestamps naive UTC."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | int | float):
        return Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal("0.000001"))
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None)
    return str(value)


def _marts(settings: Settings) -> list[str]:
    sql = "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
    return [r[0] for r in duck_query(settings, sql)]


def _columns(settings: Settings, mart: str) -> list[tuple[str, str]]:
    sql = (
        "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
        f"and table_name = '{mart}' order by ordinal_position"
    )
    return duck_query(settings, sql)


def test_dbt_build_on_spark_succeeds_with_no_errors(spark_built, duck) -> None:
    copied, result, seconds = spark_built
    counts = Counter(n.status for n in result.nodes)
    print(f"\ncopy + dbt build --target spark in {seconds:.0f}s: {len(result.nodes)} nodes, {dict(counts)}")
    assert result.success, result.describe_failures()
    assert result.failures == []
    assert {"model", "test", "seed", "unit_test"} <= {n.resource_type for n in result.nodes}
    assert {"raw.zoho_deals", "raw.fxiaoke_opportunities", "config.targets", "ops.quarantine"} <= set(
        copied.tables
    )
    assert "finance.commission_lines" in copied.tables
    for name, rows in copied.tables.items():
        assert duck_query(duck, f"select count(*) from {name}")[0][0] == rows, name


def test_every_mart_row_and_decimal_sum_is_the_same_on_spark(spark_built, duck) -> None:
    assert spark_built[1].success, spark_built[1].describe_failures()
    marts = _marts(duck)
    assert set(KEY_MARTS) <= set(marts)
    differences = []
    for mart in marts:
        columns = _columns(duck, mart)
        spark_table = _spark_mart(duck, mart)
        names = ", ".join(f'"{c}"' for c, _ in columns)
        on_duck = Counter(
            tuple(map(_normalised, r)) for r in duck_query(duck, f"select {names} from marts.{mart}")
        )
        on_spark = Counter(
            tuple(map(_normalised, r)) for r in _spark_query(f"select {names} from {spark_table}")
        )
        if on_duck != on_spark:
            only_duck, only_spark = on_duck - on_spark, on_spark - on_duck
            differences.append(
                f"{mart}: {sum(only_duck.values())} rows only on DuckDB, {sum(only_spark.values())} only on "
                f"Spark, e.g. {next(iter(only_duck), None)} / {next(iter(only_spark), None)}"
            )
        money = [c for c, t in columns if t.startswith("DECIMAL")]
        if money:
            sums = ", ".join(f'sum("{c}")' for c in money)
            duck_sums = duck_query(duck, f"select {sums} from marts.{mart}")[0]
            spark_sums = _spark_query(f"select {sums} from {spark_table}")[0]
            for column, d, s in zip(money, duck_sums, spark_sums, strict=True):
                if d != s:  # exact: Decimal against Decimal, no rounding
                    differences.append(f"{mart}.{column}: sum {d} on DuckDB, {s} on Spark")
        if mart in KEY_MARTS:
            assert sum(on_duck.values()) > 0, f"{mart} is empty: nothing compared"
    assert not differences, "\n".join(differences)


def test_spark_keeps_decimal_types(spark_built, duck) -> None:
    """Money stays DECIMAL on Spark (never double): the Parquet schema of the marts says so."""
    assert spark_built[1].success
    for mart in ("fct_deals", "fct_commissions", "fct_sales_targets"):
        decimals = {c: t for c, t in _columns(duck, mart) if t.startswith("DECIMAL")}
        described = {
            row[0]: row[1] for row in _spark_query(f"describe select * from {_spark_mart(duck, mart)}")
        }
        for column, duck_type in decimals.items():
            assert described[column] == duck_type, (
                f"{mart}.{column}: {described[column]} on Spark, {duck_type}"
            )


def test_cli_help_names_the_spark_settings() -> None:
    output = CliRunner().invoke(app, ["warehouse", "spark", "--help"], terminal_width=200).output
    help_text = " ".join(output.split())  # rich wraps the text at 80 columns
    for words in (
        "--select",
        "--run-date",
        "--copy-only",
        "--skip-copy",
        "dbt build --target spark",
        "SALESOPS_SPARK",
    ):
        assert words in help_text
