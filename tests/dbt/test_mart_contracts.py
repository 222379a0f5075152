"""Every published mart is a contract: enforced column names and types, and a description for every
column that dbt writes into the warehouse (``persist_docs``) for BI tools to show.

Read from the manifest of ``dbt parse``, so a contract set in dbt_project.yml, in a model's YAML or
in its ``config()`` all count, and a new mart under models/marts/ without one fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.config.settings import Settings
from flows.warehouse.dbt_runner import run_dbt

MARTS = "models/marts/"
# Counts are BIGINT (not HUGEINT, which Parquet stores as a double) and nothing is floating point:
# money and ratios are decimals.
FORBIDDEN_TYPES = ("hugeint", "int128", "double", "float", "real")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    settings = Settings(home=tmp_path_factory.mktemp("parse_home"))
    run_dbt(settings, ["parse"])
    return json.loads((settings.home_dir / "dbt_target" / "manifest.json").read_text("utf-8"))


def contract_problems(node: dict) -> list[str]:
    """What keeps ``node`` (a manifest model) from being a published mart readers can rely on."""
    config = node["config"]
    name = node["name"]
    problems = []
    if not config.get("contract", {}).get("enforced"):
        problems.append(f"{name}: contract not enforced")
    if config.get("persist_docs") != {"relation": True, "columns": True}:
        problems.append(f"{name}: persist_docs is not relation + columns")
    if not node.get("description", "").strip():
        problems.append(f"{name}: no description")
    if not node["columns"]:
        problems.append(f"{name}: no columns in its YAML")
    for column, spec in node["columns"].items():
        data_type = (spec.get("data_type") or "").strip().lower()
        if not data_type:
            problems.append(f"{name}.{column}: no data_type")
        elif data_type.startswith(FORBIDDEN_TYPES):
            problems.append(f"{name}.{column}: {data_type}")
        if not (spec.get("description") or "").strip():
            problems.append(f"{name}.{column}: no description")
    return problems


def _marts(manifest: dict) -> list[dict]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith(MARTS)
    ]


def test_every_mart_has_an_enforced_contract_and_described_columns(manifest):
    marts = _marts(manifest)
    assert len(marts) >= 22
    assert [p for node in marts for p in contract_problems(node)] == []


def test_the_check_catches_a_mart_without_contract_type_or_description(manifest):
    node = json.loads(json.dumps(next(n for n in _marts(manifest) if n["name"] == "fct_rep_scorecard")))
    node["config"]["contract"]["enforced"] = False
    node["columns"]["deals_won"]["data_type"] = "hugeint"
    node["columns"]["rep_name"]["description"] = " "
    node["columns"]["email"].pop("data_type")
    assert sorted(contract_problems(node)) == [
        "fct_rep_scorecard.deals_won: hugeint",
        "fct_rep_scorecard.email: no data_type",
        "fct_rep_scorecard.rep_name: no description",
        "fct_rep_scorecard: contract not enforced",
    ]


def test_the_contract_types_are_duckdb_types_that_postgres_and_spark_accept(manifest):
    """One spelling for three engines: PostgreSQL reads every one as it is, and Spark reads only
    ``varchar`` and ``timestamp`` differently (``string``, ``timestamp_ntz``: macros/contracts.sql)."""
    accepted = {"varchar", "bigint", "integer", "boolean", "date", "timestamp"}
    types = {spec["data_type"] for node in _marts(manifest) for spec in node["columns"].values()}
    assert {t for t in types if t not in accepted and not t.startswith("decimal(")} == set()
    assert Path(
        manifest["macros"]["macro.salesops.spark__get_empty_schema_sql"]["original_file_path"]
    ) == Path("macros/contracts.sql")
