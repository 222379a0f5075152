"""The Maven data set reaches the pipeline with its quirks intact, and every Maven stage is mapped."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from flows.sandbox.maven import MAVEN_PIPELINE, load_maven_company

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "crm_stage_mapping.csv"


@pytest.fixture(scope="module")
def maven():
    return load_maven_company()


def test_every_maven_stage_is_in_the_stage_mapping_with_its_category_and_probability():
    with SEED.open(newline="", encoding="utf-8") as fh:
        seed = {(r["source"], r["stage"]): r for r in csv.DictReader(fh)}
    orders = []
    for name, probability, category in MAVEN_PIPELINE:
        row = seed[("zoho", name)]
        assert row["stage_category"] == category
        assert int(row["default_probability"]) == probability
        orders.append(int(row["stage_order"]))
    assert orders == sorted(orders) and len(set(orders)) == len(orders)


def test_headline_counts(maven):
    stages = Counter(d.stage for d in maven.deals)
    assert stages == {"Won": 4238, "Lost": 2473, "Engaging": 1589, "Prospecting": 500}
    assert sum(d.amount for d in maven.deals if d.stage == "Won") == 10005534


def test_gtxpro_stays_unmatched(maven):
    unmatched = [d for d in maven.deals if d.product_key is None]
    assert len(unmatched) == 1480
    assert {d.product_name for d in unmatched} == {"GTXPro"}
    assert "GTXPro" not in {p.name for p in maven.products}


def test_misspelt_sector_is_kept(maven):
    assert Counter(a.industry for a in maven.accounts)["technolgy"] == 12
    assert "technology" not in {a.industry for a in maven.accounts}


def test_open_deals_without_account_and_value(maven):
    open_deals = [d for d in maven.deals if d.stage_category == "open"]
    assert sum(1 for d in open_deals if d.account_key is None) == 1425
    assert all(d.amount is None and d.closing_date is None for d in open_deals)


def test_agents_without_deals_are_users(maven):
    owners = {d.owner_key for d in maven.deals}
    idle = sorted(u.full_name for u in maven.users if u.role == "rep" and u.key not in owners)
    assert idle == ["Carl Lin", "Carol Thompson", "Elizabeth Anderson", "Mei-Mei Johns", "Natalya Ivanova"]
