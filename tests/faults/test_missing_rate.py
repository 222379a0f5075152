"""Issue 13 item 11: a missing exchange rate is reported by the configuration load, naming the file
and the currency, not by a dbt test after the whole build.

Without the reporting currency's own rows (rate 1) in ``exchange_rates.csv`` every converted amount
was null and the nightly stopped at step 'dbt build' on
``not_null_int_targets_monthly_target_amount_reporting`` and
``expression_is_true_fct_deals_amount_reporting__...``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR


def test_no_rate_for_the_reporting_currency_names_the_file_and_the_currency(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config_dir)
    rates = config_dir / "exchange_rates.csv"
    lines = rates.read_text(encoding="utf-8").splitlines()
    rates.write_text(
        "\n".join(line for line in lines if not line.startswith("USD,")) + "\n", encoding="utf-8"
    )

    with pytest.raises(ConfigError) as err, duckdb.connect() as conn:
        load_config(conn, config_dir)

    assert str(err.value).startswith(
        "config/exchange_rates.csv: no rate for currency USD on/before 2025-01-01"
    )


def test_a_target_currency_without_a_rate_names_the_row_and_the_file(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", config_dir)
    targets = config_dir / "targets.csv"
    lines = targets.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",JPY"
    targets.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"config/targets\.csv row 2, field currency: 'JPY' has no rate in"):
        load_config(duckdb.connect(), config_dir)
