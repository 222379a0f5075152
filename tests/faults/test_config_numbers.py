"""Issue 13 item 3: configuration numbers are parsed strictly, never with their commas stripped.

``"1,087"`` in ``exchange_rates.csv`` used to be stored as 1087 and ``"12,34"`` as a target as
1234.00, and ``salesops targets check`` said ok. Now a comma is understood only under the
``number_locale`` declared in ``settings.yml`` (Babel's strict parser) and otherwise rejected,
naming the file, the row and the field.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(PROJECT_DIR / "config", target)
    return target


def _set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell (spreadsheet numbering: the header is row 1)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def _declare_locale(config_dir: Path, locale: str) -> None:
    settings = config_dir / "settings.yml"
    settings.write_text(settings.read_text(encoding="utf-8") + f"number_locale: {locale}\n", encoding="utf-8")


def _load(config_dir: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    load_config(conn, config_dir)
    return conn


def test_a_decimal_comma_in_an_exchange_rate_is_rejected_naming_file_row_and_field(config_dir: Path) -> None:
    _set_cell(config_dir / "exchange_rates.csv", 3, "rate_to_reporting", "1,087")  # EUR 2025-01

    with pytest.raises(ConfigError) as err:
        _load(config_dir)

    message = str(err.value)
    assert message.startswith("config/exchange_rates.csv row 3, field rate_to_reporting: '1,087'"), message
    assert "comma" in message and "number_locale" in message


def test_a_decimal_comma_target_is_rejected_and_targets_check_fails(config_dir: Path) -> None:
    _set_cell(config_dir / "targets.csv", 2, "target_amount", "12,34")

    result = CliRunner().invoke(
        app, ["targets", "check", "--config-dir", str(config_dir), "--warehouse", str(config_dir / "none")]
    )

    assert result.exit_code != 0, result.output
    assert "ok:" not in result.output
    assert "config/targets.csv row 2, field target_amount: '12,34'" in " ".join(result.output.split())


def _rewrite(path: Path, column: str, change) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    at = rows[0].index(column)
    for number, row in enumerate(rows[1:], start=2):
        row[at] = change(number, row[at])
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)


def test_a_declared_locale_reads_its_decimal_comma_and_grouping(config_dir: Path) -> None:
    _declare_locale(config_dir, "de_DE")

    def german(_: int, text: str) -> str:
        return text.replace(".", ",")

    # every file written the German way: a decimal comma everywhere, a grouping point in one target
    _rewrite(config_dir / "exchange_rates.csv", "rate_to_reporting", german)
    _rewrite(config_dir / "monthly_distribution.csv", "share_pct", german)
    _rewrite(
        config_dir / "targets.csv", "target_amount", lambda n, t: "1.234.567,89" if n == 2 else german(n, t)
    )

    conn = _load(config_dir)

    rate = conn.execute(
        "select rate_to_reporting from config.exchange_rates"
        " where currency = 'EUR' and rate_date = '2025-01-01'"
    ).fetchone()[0]
    assert rate == Decimal("1.087")
    assert conn.execute("select target_amount from config.targets where source_row = 2").fetchone()[0] == (
        Decimal("1234567.89")
    )


def test_under_a_declared_locale_a_malformed_number_is_rejected(config_dir: Path) -> None:
    _declare_locale(config_dir, "en_US")
    _set_cell(config_dir / "targets.csv", 2, "target_amount", "12,34")

    with pytest.raises(ConfigError) as err:
        _load(config_dir)

    message = str(err.value)
    assert message.startswith("config/targets.csv row 2, field target_amount: '12,34' is not a number"), (
        message
    )
    assert "en_US" in message and "'12.34'" in message  # Babel's guess is shown


def test_an_unknown_locale_is_rejected(config_dir: Path) -> None:
    _declare_locale(config_dir, "xx_YY")

    with pytest.raises(ConfigError, match=r"config/settings.yml line \d+, field number_locale: 'xx_YY'"):
        _load(config_dir)


@pytest.mark.parametrize("text", ["1_000", "1 000", "1.000,5"])
def test_other_separators_are_never_guessed_without_a_locale(config_dir: Path, text: str) -> None:
    _set_cell(config_dir / "targets.csv", 2, "target_amount", text)

    with pytest.raises(ConfigError, match=r"config/targets\.csv row 2, field target_amount"):
        _load(config_dir)
