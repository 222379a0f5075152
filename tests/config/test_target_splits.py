"""Target decomposition settings (issue 12 item 8): distribution shares accepted when they total
100 % at two decimals, and ``target_day_split: working_days | calendar_days`` for month -> day.
The dbt side of calendar_days is the unit test ``test_int_targets_daily_calendar_days``
(dbt_project/models/intermediate/targets/_intermediate_targets__day_split_unit_tests.yml)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from flows.config.company_settings import read_settings
from flows.config.errors import ConfigError
from flows.config.monthly_distribution import read_distribution


def _shares(tmp_path: Path, shares: list[str]) -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    rows = "".join(f"{month},{share}\n" for month, share in enumerate(shares, start=1))
    (config / "monthly_distribution.csv").write_text("fiscal_month,share_pct\n" + rows, encoding="utf-8")
    return config


def test_a_spreadsheets_twelve_equal_shares_are_accepted(tmp_path):
    # 100 / 12 shown with 4 decimals: 12 x 8.3333 = 99.9996, which is 100.00 at two decimals
    shares = read_distribution(_shares(tmp_path, ["8.3333"] * 12), required=True)
    assert [s for _, s, _ in shares] == [Decimal("8.3333")] * 12


def test_shares_that_round_to_100_00_from_above_are_accepted(tmp_path):
    # 11 x 8.3334 + 8.3330 = 91.6674 + 8.3330 = 100.0004 -> 100.00
    assert len(read_distribution(_shares(tmp_path, ["8.3334"] * 11 + ["8.3330"]), required=True)) == 12


@pytest.mark.parametrize(
    ("shares", "total"),
    [
        (["8.33"] * 12, "99.96"),  # 12 x 8.33 = 99.96: a month's share is missing
        (["8.3333"] * 11 + ["8.3283"], "99.9946"),  # 91.6663 + 8.3283 = 99.9946 -> 99.99
        (["8.3333"] * 11 + ["8.3387"], "100.0050"),  # 91.6663 + 8.3387 = 100.0050 -> 100.01 (half up)
    ],
)
def test_shares_that_do_not_total_100_at_two_decimals_are_rejected(tmp_path, shares, total):
    with pytest.raises(ConfigError) as err:
        read_distribution(_shares(tmp_path, shares), required=True)
    assert str(err.value) == (
        f"config/monthly_distribution.csv row 13, field share_pct: the shares total {total} %, "
        "they must total 100 % (at two decimals)"
    )


def test_target_day_split_defaults_to_working_days_and_accepts_calendar_days(tmp_path):
    assert read_settings(tmp_path)["target_day_split"] == "working_days"
    (tmp_path / "settings.yml").write_text("target_day_split: calendar_days\n", encoding="utf-8")
    assert read_settings(tmp_path)["target_day_split"] == "calendar_days"


def test_an_unknown_target_day_split_names_the_file_line_and_choices(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yml").write_text("fiscal_year_start_month: 1\ntarget_day_split: weekdays\n")
    with pytest.raises(ConfigError) as err:
        read_settings(config)
    assert "config/settings.yml" in str(err.value) and "target_day_split" in str(err.value)
    assert "'weekdays' is not one of working_days, calendar_days" in str(err.value)
