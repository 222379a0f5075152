"""End to end: a generated company of another size runs without hand-made configuration.

``config/targets.csv`` names the default demo's 24 reps; ``salesops demo --reps 40 --deals 400``
has reps it does not cover, so the demo writes a configuration with a target for every rep
(flows/sandbox/company/config_files.py) and the marts gate passes.
"""

from __future__ import annotations

import csv

import pytest
from e2e_support import RUN_DATE

from flows.cli.demo import run_demo
from flows.config.settings import get_settings
from flows.sandbox.cluster import build_company
from flows.sandbox.company.config_files import uncovered_reps, write_config_dir

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]


def test_a_40_rep_demo_gets_a_target_for_every_rep_and_publishes(tmp_path) -> None:
    home = tmp_path / "home"
    summary = run_demo(home, seed=42, reps=40, deals=400, run_date=RUN_DATE)
    assert summary.critical_failures == []
    assert summary.status == "completed", summary.to_markdown()
    assert summary.published is not None
    company = build_company("synthetic", seed=42, reps=40, deals=400, as_of=RUN_DATE)
    generated = home / "generated-config"
    assert uncovered_reps(company, generated) == []
    assert uncovered_reps(company, get_settings().config_path), "the shipped targets cover only 24 reps"


def test_the_default_demo_company_needs_no_generated_config(tmp_path) -> None:
    company = build_company("synthetic", seed=42, reps=24, deals=240, as_of=RUN_DATE)
    assert uncovered_reps(company, get_settings().config_path) == []


def test_generated_targets_keep_shipped_rows_and_scale_with_deals_per_rep(tmp_path) -> None:
    source = get_settings().config_path
    company = build_company("synthetic", seed=42, reps=30, deals=3000, as_of=RUN_DATE)
    dest = write_config_dir(company, source, tmp_path / "cfg")
    with (dest / "targets.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (source / "targets.csv").open(newline="") as fh:
        shipped = list(csv.DictReader(fh))
    reps = {u.email for u in company.users if u.role == "rep"}
    assert {r["scope_key"] for r in rows if r["scope_type"] == "rep"} == reps
    kept = [r for r in shipped if r["scope_type"] != "rep" or r["scope_key"] in reps]
    assert len(company.deals) / len(reps) == 100, "twice the shipped 50 deals per rep"
    # shipped rows of reps the company has stay, their targets doubled with the deals per rep
    # (to the nearest 500): e.g. ines.keller's 2025-01 target of 38,000.00 becomes 76,000.00
    assert [{**r, "target_amount": ""} for r in rows[: len(kept)]] == [
        {**r, "target_amount": ""} for r in kept
    ]
    first = rows[0]
    assert (first["scope_key"], first["period"], first["target_amount"]) == (
        "ines.keller@salesops-demo.com",
        "2025-01",
        "76000.00",
    )
    for new, old in zip(rows[: len(kept)], kept, strict=True):
        if old["scope_type"] == "rep" and float(old["target_amount"]) % 250 == 0:
            assert float(new["target_amount"]) == 2 * float(old["target_amount"]), new
    assert [r["target_amount"] for r in rows[: len(kept)] if r["scope_type"] != "rep"] == [
        r["target_amount"] for r in kept if r["scope_type"] != "rep"
    ], "team, region and company targets stay as shipped"
    months = {r["period"] for r in shipped if r["scope_type"] == "rep"}
    new = [r for r in rows[len(kept) :]]
    assert new and all(r["period"] in months and float(r["target_amount"]) >= 500 for r in new)
    assert (dest / "commission_plan.yml").read_text() == (source / "commission_plan.yml").read_text()
