"""Plan files: the shipped plans load; bad plans are rejected with file, line and reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from flows.config.commission_plan import PlanError, load_plan_file, parse_plan_text

ROOT = Path(__file__).resolve().parents[2]
GOOD = """plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - component: c
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: null, rate: 0.05}
"""


@pytest.mark.parametrize(
    "path",
    [ROOT / "config" / "commission_plan.yml", *sorted((ROOT / "config" / "plans").glob("*.yml"))],
    ids=lambda p: p.name,
)
def test_shipped_plans_are_valid(path):
    book = load_plan_file(path)
    assert book.plans


def test_numbers_are_exact_decimals():
    band = parse_plan_text(GOOD).plans[0].components[0].tiers[0]
    assert band.rate == Decimal("0.02") and isinstance(band.rate, Decimal)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{band_lower: 0.50, band_upper: null",
            "{band_lower: 0.40, band_upper: null",
            "line 11 (plans[0].components[0].tiers[1].band_lower): band [0.40, open) overlaps the previous "
            "band [0.00, 0.50)",
        ),
        (
            "{band_lower: 0.50, band_upper: null",
            "{band_lower: 0.60, band_upper: null",
            "line 11 (plans[0].components[0].tiers[1].band_lower): gap between 0.50 and 0.60",
        ),
        (
            "{band_lower: 0.50, band_upper: null, rate: 0.05}",
            "{band_lower: 0.50, band_upper: 0.90, rate: 0.05}",
            "line 11 (plans[0].components[0].tiers[1].band_upper): the last band must be open-ended",
        ),
        (
            "{band_lower: 0.00, band_upper: 0.50",
            "{band_lower: 0.00, band_upper: 0.00",
            "line 10 (plans[0].components[0].tiers[0]): band_upper 0.00 must be greater than band_lower 0.00",
        ),
        (
            "effective_from: 2026-01-01",
            "effective_from: 2026-01-15",
            "line 4 (plans[0].effective_from): 2026-01-15 must be the first day of a month",
        ),
        (
            "type: tiered_marginal",
            "type: steps",
            "line 8 (plans[0].components[0].type): 'steps': Input should be",
        ),
        ("rate: 0.02}", "rate: -0.02}", "line 10 (plans[0].components[0].tiers[0].rate): "),
        (
            "        type:",
            "        typo: x\n        type:",
            "line 8 (plans[0].components[0].typo): unknown field 'typo'",
        ),
        ("currency: USD", "currency: usd", "line 5 (plans[0].currency): 'usd'"),
    ],
)
def test_a_bad_plan_is_rejected_with_file_line_and_reason(tmp_path, old, new, message):
    path = tmp_path / "bad.yml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(PlanError) as err:
        load_plan_file(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_overlapping_versions_and_unknown_assignment_plan():
    two = GOOD + GOOD.split("plans:\n", 1)[1].replace("version: 1", "version: 2")
    with pytest.raises(
        PlanError, match=r"line 14 \(plans\[1\].effective_from\): P version 2 .* overlaps version 1"
    ):
        parse_plan_text(two, "x.yml")
    with pytest.raises(PlanError, match=r"line 13 \(assignments\[0\].plan_id\): 'Q' is not a plan"):
        parse_plan_text(GOOD + "assignments:\n  - {plan_id: Q, role: rep, valid_from: 2026-01-01}\n", "x.yml")
    with pytest.raises(PlanError, match="give exactly one of role, rep_email or rep_id"):
        parse_plan_text(GOOD + "assignments:\n  - {plan_id: P, valid_from: 2026-01-01}\n", "x.yml")


def test_not_yaml():
    with pytest.raises(PlanError, match=r"x.yml line \d+: not valid YAML"):
        parse_plan_text("plans: [", "x.yml")
