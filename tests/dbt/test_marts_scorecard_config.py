"""config/scorecard.yml documents the appraisal weights; dbt reads the seed that mirrors it."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "scorecard.yml"
SEED = ROOT / "dbt_project" / "seeds" / "scorecard_weights.csv"
COMPONENTS = {"revenue", "customer_satisfaction", "new_customers", "customer_maintenance"}


def _config() -> dict[str, dict[str, Decimal]]:
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return {
        name: {key: Decimal(str(value)) for key, value in spec.items()}
        for name, spec in data["components"].items()
    }


def _seed() -> dict[str, dict[str, Decimal]]:
    with SEED.open(newline="", encoding="utf-8") as fh:
        return {
            row["component"]: {
                "weight": Decimal(row["weight"]),
                "full_score_at": Decimal(row["full_score_at"]),
            }
            for row in csv.DictReader(fh)
        }


def test_seed_mirrors_config_scorecard_yml():
    assert _seed() == _config()


def test_weights_cover_every_component_and_add_up_to_one():
    config = _config()
    assert set(config) == COMPONENTS
    assert sum(spec["weight"] for spec in config.values()) == Decimal("1")
    assert all(spec["weight"] >= 0 and spec["full_score_at"] > 0 for spec in config.values())
