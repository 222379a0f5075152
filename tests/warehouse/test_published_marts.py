"""What a BI tool gets from the published marts: descriptions, integer counts, no empty future rows.

The real marts are built on a small sandbox company (tests/reference_warehouse_support.py) and published with
``publish_marts``, exactly as the nightly does after its gate; every check reads the published
DuckDB file (storage v1.0.0) or its Parquet files, not the pipeline's working file.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import date
from pathlib import Path

import duckdb
import pytest
from reference_warehouse_support import build_reference_warehouse

from flows.config.settings import Settings
from flows.warehouse.dbt_docs import DOCS_FILE, generate_static_docs
from flows.warehouse.dbt_runner import run_dbt
from flows.warehouse.publish import PublishResult, publish_marts, published_info

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
RUN_DATE = date(2026, 12, 5)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> PublishResult:
    home = tmp_path_factory.mktemp("bi_home")
    settings, _ = build_reference_warehouse(
        home, deals=240, run_id="marts-test", run_date=RUN_DATE, quarantine=False
    )
    docs = generate_static_docs(settings, RUN_DATE)  # what the nightly's publish step does first
    return publish_marts(settings, run_id="bi-test", run_date=RUN_DATE, docs=docs)


def test_dbt_unit_tests_pass_on_duckdb(published):
    """The nightly leaves dbt's unit tests out (flows/commissions/refresh.py, NIGHTLY_EXCLUDES):
    here they run on DuckDB, every one of the project's, on the built reference warehouse (they
    read its relations' column types)."""
    settings = published_settings(published)
    result = run_dbt(settings, ["test", "--select", "test_type:unit"], raise_on_failure=False)
    manifest = json.loads((settings.home_dir / "dbt_target" / "manifest.json").read_text())
    defined = {uid for uid in manifest["unit_tests"]}
    ran = {n.unique_id for n in result.nodes if n.resource_type == "unit_test"}
    assert len(defined) >= 30 and ran == defined
    assert result.success, result.describe_failures()


def _query(result: PublishResult, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(result.database), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def test_every_published_mart_and_column_carries_its_description(published):
    columns = _query(
        published,
        "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'",
    )
    tables = dict(
        _query(published, "select table_name, comment from duckdb_tables() where schema_name = 'marts'")
    )
    assert len(tables) >= 22 and set(tables) == set(published.tables)
    assert len(columns) > 400
    assert [t for t, comment in tables.items() if not (comment or "").strip()] == []
    assert [f"{t}.{c}" for t, c, comment in columns if not (comment or "").strip()] == []
    # the text is the YAML's, doc blocks rendered (models/_salesops__docs.md)
    assert ("fct_rep_scorecard", "rep_id", "Rep (`dim_sales_reps.rep_id`).") in columns


def test_no_hugeint_or_floating_column_in_the_published_file(published):
    types = _query(
        published,
        "select table_name, column_name, data_type from duckdb_columns() where schema_name = 'marts'",
    )
    odd = [(t, c, ty) for t, c, ty in types if ty in {"HUGEINT", "DOUBLE", "FLOAT", "REAL"}]
    assert odd == []
    counts = {(t, c): ty for t, c, ty in types if c in {"deals_won", "deals_lost", "deals_open"}}
    assert counts[("fct_rep_scorecard", "deals_won")] == "BIGINT"
    assert set(counts.values()) == {"BIGINT"}


def test_parquet_counts_are_int64_and_nothing_is_floating_point(published):
    with duckdb.connect() as conn:
        for mart, path in published.parquet_files.items():
            schema = conn.execute(
                "select name, type from parquet_schema(?) where num_children is null or num_children = 0",
                [str(path)],
            ).fetchall()
            physical = dict(schema)
            assert not [n for n, t in schema if t in {"DOUBLE", "FLOAT"}], (mart, schema)
            published_types = dict(
                _query(
                    published,
                    "select column_name, data_type from duckdb_columns() "
                    "where schema_name = 'marts' and table_name = ?",
                    [mart],
                )
            )
            bigints = [c for c, t in published_types.items() if t == "BIGINT"]
            assert {c: physical[c] for c in bigints} == {c: "INT64" for c in bigints}, mart
    sc = published.parquet_files["fct_rep_scorecard"]
    with duckdb.connect() as conn:
        types = dict(
            conn.execute(f"select column_name, column_type from (describe select * from '{sc}')").fetchall()
        )
    assert types["deals_won"] == types["activities_count"] == "BIGINT"


def test_future_periods_are_flagged_and_published_only_with_pipeline(published):
    months = _query(
        published,
        "select period_month, bool_and(is_future_period), bool_or(is_future_period), sum(deals_open), "
        "sum(deals_won + deals_lost) from marts.fct_rep_scorecard group by 1 order by 1",
    )
    future = [m for m in months if m[0] > RUN_DATE]
    assert future, "the demo company has deals expected to close after the run date"
    # a month after the run date's: flagged on every row, has pipeline, nothing closed yet
    assert all(all_f and open_ > 0 for _, all_f, _, open_, _ in future), future
    assert all(not any_f for m, _, any_f, _, _ in months if m <= RUN_DATE)
    # targets run to the end of 2027 (config/targets.csv): the months without pipeline are left out
    assert max(m[0] for m in months) < date(2027, 12, 1)
    periods = _query(
        published,
        "select period_grain, period_start, bool_and(is_future_period = (period_start > ?)), sum(deals_open) "
        "from marts.fct_sales_scorecard where scorecard_level = 'company' group by 1, 2",
        [RUN_DATE],
    )
    assert all(flag_ok for _, _, flag_ok, _ in periods)
    assert all(open_ > 0 for _, start, _, open_ in periods if start > RUN_DATE)


def test_the_readme_scorecard_query_returns_data_to_date(published):
    readme = (REPO / "README.md").read_text("utf-8")
    (command,) = re.findall(r"^duckdb -readonly data/warehouse\.duckdb .*$", readme, flags=re.M)
    sql = shlex.split(command)[-1]
    with duckdb.connect(str(published.database), read_only=True) as conn:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert len(rows) == 10
    # the newest month to date (the run date's), not an empty month of targets after it
    assert {r["period_month"] for r in rows} == {date(2026, 12, 1)}
    assert any(r["deals_won"] > 0 and r["won_amount"] > 0 for r in rows), rows


def test_the_dbt_docs_page_is_published_with_the_marts_and_opens_offline(published):
    """``dbt docs generate --static`` output goes out with the night it documents: one HTML file next
    to the Parquet files, with the marts and their column descriptions inlined, loading nothing
    from the network (a BI user opens it from the file system)."""
    page = published.parquet_dir / DOCS_FILE
    assert page.is_file()
    assert published_info(published_settings(published))["dbt_docs"] == DOCS_FILE
    html = page.read_text(encoding="utf-8")
    assert "model.salesops.fct_pipeline_movement" in html and "model.salesops.fct_deals" in html
    assert "Rep (`dim_sales_reps.rep_id`)." in html  # a column description from the YAML docs blocks
    external = re.findall(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']https?://[^\"']+", html, re.I)
    assert external == [], external[:3]


def published_settings(result: PublishResult) -> Settings:
    """The settings of the home the fixture published into (the published file lives in it)."""
    return Settings(home=result.database.parent)
