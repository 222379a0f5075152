"""flows.config.loader: the shipped config loads; wrong files fail naming file, row/line and field."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows.config.calendar import period_bounds
from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR

SHIPPED = PROJECT_DIR / "config"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped config/ directory (named config, like the real one)."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _replace_line(path: Path, line_number: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line_number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_shipped_config_loads(conn, config_dir: Path) -> None:
    counts = load_config(conn, config_dir, run_id="t1")
    assert counts["targets"] == len(config_dir.joinpath("targets.csv").read_text().splitlines()) - 1
    assert counts["exchange_rates"] == 3 * 36
    assert counts["commission_plans"] == 2
    assert counts["commission_plan_tiers"] == 8
    assert counts["commission_plan_assignments"] == 1
    for table, n in counts.items():
        assert conn.execute(f"select count(*) from config.{table}").fetchone()[0] == n
    amount, type_name = conn.execute(
        "select target_amount, typeof(target_amount) from config.targets where source_row = 2"
    ).fetchone()
    assert isinstance(amount, Decimal)
    assert type_name == "DECIMAL(18,2)"
    assert conn.execute("select distinct run_id from config.targets").fetchall() == [("t1",)]
    # every scope type is present and the company grain is a year
    scopes = dict(conn.execute("select scope_type, count(*) from config.targets group by 1").fetchall())
    assert set(scopes) == {"rep", "team", "region", "company"}
    # reloading replaces, never appends
    assert load_config(conn, config_dir) == counts
    assert conn.execute("select count(*) from config.targets").fetchone()[0] == counts["targets"]


def test_every_rep_of_the_demo_company_has_monthly_targets(conn, config_dir: Path) -> None:
    from flows.sandbox.company.generator import generate_company

    load_config(conn, config_dir)
    reps = {u.email for u in generate_company(seed=42, reps=24, deals=0).users if u.role == "rep"}
    rows = conn.execute(
        "select scope_key, count(*) from config.targets"
        " where scope_type = 'rep' and grain = 'month' group by 1"
    ).fetchall()
    assert {email for email, _ in rows} == reps
    assert all(n == 36 for _, n in rows)  # FY2025-FY2027


def test_targets_xlsx_is_accepted(conn, config_dir: Path) -> None:
    from openpyxl import Workbook

    csv_path = config_dir / "targets.csv"
    book = Workbook()
    sheet = book.active
    sheet.append(["scope_type", "scope_key", "grain", "period", "target_amount", "currency"])
    sheet.append(["rep", "ines.keller@salesops-demo.com", "month", "2026-10", 12345.6, "USD"])
    sheet.append(["company", "company", "year", "FY2026", 1000000, "USD"])
    csv_path.unlink()
    book.save(config_dir / "targets.xlsx")
    assert load_config(conn, config_dir)["targets"] == 2
    assert conn.execute("select target_amount from config.targets where grain = 'month'").fetchone()[0] == (
        Decimal("12345.60")
    )


def test_bad_amount_names_file_row_and_field(conn, config_dir: Path) -> None:
    _replace_line(config_dir / "targets.csv", 14, "rep,ines.keller@salesops-demo.com,month,2027-01,abc,USD")
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == "config/targets.csv row 14, field target_amount: 'abc' is not a number"


def test_failed_load_writes_nothing(conn, config_dir: Path) -> None:
    counts = load_config(conn, config_dir)
    _replace_line(config_dir / "targets.csv", 3, "rep,ines.keller@salesops-demo.com,month,2025-02,-5,USD")
    with pytest.raises(ConfigError, match=r"row 3, field target_amount: .* must be >= 0"):
        load_config(conn, config_dir)
    assert conn.execute("select count(*) from config.targets").fetchone()[0] == counts["targets"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "rep,ines.keller@salesops-demo.com,month,2026-13,100.00,USD",
            "config/targets.csv row 5, field period: '2026-13' is not a month period (like '2026-10')",
        ),
        (
            "team,North America 1,quarter,FY2026-Q5,100.00,USD",
            "config/targets.csv row 5, field period: 'FY2026-Q5' is not a quarter period (like 'FY2026-Q3')",
        ),
        (
            "region,Europe,year,2026,100.00,USD",
            "config/targets.csv row 5, field period: '2026' is not a year period (like 'FY2026')",
        ),
    ],
)
def test_bad_period_names_file_row_and_field(conn, config_dir: Path, line: str, message: str) -> None:
    _replace_line(config_dir / "targets.csv", 5, line)
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == message


def test_unknown_scope_type(conn, config_dir: Path) -> None:
    _replace_line(config_dir / "targets.csv", 7, "division,EMEA,year,FY2026,100.00,USD")
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == (
        "config/targets.csv row 7, field scope_type: 'division' is not one of rep, team, region, company"
    )


def test_duplicate_target_and_unknown_currency(conn, config_dir: Path) -> None:
    path = config_dir / "targets.csv"
    _replace_line(path, 3, "rep,ines.keller@salesops-demo.com,month,2025-01,1.00,USD")
    with pytest.raises(
        ConfigError, match=r"row 3, field period: duplicate target .* \(first given in row 2\)"
    ):
        load_config(conn, config_dir)
    _replace_line(path, 3, "rep,ines.keller@salesops-demo.com,month,2025-02,1.00,GBP")
    with pytest.raises(ConfigError, match=r"row 3, field currency: 'GBP' has no rate"):
        load_config(conn, config_dir)


def test_plan_with_overlapping_bands(conn, config_dir: Path) -> None:
    path = config_dir / "commission_plan.yml"
    text = path.read_text(encoding="utf-8")
    bad = text.replace(
        "{band_lower: 0.50, band_upper: 1.00, rate: 0.050}",
        "{band_lower: 0.40, band_upper: 1.00, rate: 0.050}",
        1,
    )
    assert bad != text
    path.write_text(bad, encoding="utf-8")
    line = next(i for i, row in enumerate(bad.splitlines(), start=1) if "band_lower: 0.40" in row)
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    # the message of the one plan parser (flows.config.commission_plan): file, line, field path, reason
    assert str(err.value) == (
        f"config/commission_plan.yml line {line} (plans[0].components[0].tiers[1].band_lower): "
        "band [0.40, 1.00) overlaps the previous band [0.00, 0.50)"
    )


def test_plan_versions_must_not_overlap(conn, config_dir: Path) -> None:
    path = config_dir / "commission_plan.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("effective_to: 2026-01-01", "effective_to: 2026-02-01")
    )
    with pytest.raises(
        ConfigError, match=r"\(plans\[1\].effective_from\): AE-STANDARD version 2 .* overlaps"
    ):
        load_config(conn, config_dir)


def test_bad_exchange_rate(conn, config_dir: Path) -> None:
    _replace_line(config_dir / "exchange_rates.csv", 3, "EUR,2025-01-15,1.08")
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == (
        "config/exchange_rates.csv row 3, field rate_date: 2025-01-15 must be the first of a month"
    )


def test_period_bounds_follow_fiscal_year_start() -> None:
    from datetime import date

    assert period_bounds("quarter", "FY2026-Q3", 1) == (date(2026, 7, 1), date(2026, 10, 1))
    assert period_bounds("year", "FY2026", 4) == (date(2026, 4, 1), date(2027, 4, 1))
    assert period_bounds("quarter", "FY2026-Q4", 4) == (date(2027, 1, 1), date(2027, 4, 1))
    assert period_bounds("month", "2026-10", 4) == (date(2026, 10, 1), date(2026, 11, 1))
    assert period_bounds("month", "FY2026", 1) is None


# --------------------------------------------------------------------------------------------
# target decomposition settings: monthly_distribution.csv, target_month_split, calendar countries
# --------------------------------------------------------------------------------------------


def test_shipped_config_writes_calendar_and_distribution(conn, config_dir: Path) -> None:
    counts = load_config(conn, config_dir)
    assert counts["monthly_distribution"] == 12
    total = conn.execute(
        "select sum(share_pct), typeof(sum(share_pct)) from config.monthly_distribution"
    ).fetchone()
    assert total[0] == Decimal("100")
    assert conn.execute(
        "select region_name, country_code from config.calendar_regions order by 1"
    ).fetchall() == [("China East", "CN"), ("China South", "CN"), ("Europe", "DE"), ("North America", "US")]
    assert (
        dict(conn.execute("select setting_key, setting_value from config.settings").fetchall())[
            "target_month_split"
        ]
        == "equal"
    )


def test_distribution_must_total_100_naming_the_row(conn, config_dir: Path) -> None:
    # shares 7+7+9+8+8+9+7+7+9+8+9+12 = 100; December 12 -> 11.5 makes 99.5
    _replace_line(config_dir / "monthly_distribution.csv", 13, "12,11.5")
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == (
        "config/monthly_distribution.csv row 13, field share_pct: the shares total 99.5 %, "
        "they must total 100 % (at two decimals)"
    )


@pytest.mark.parametrize(
    ("row", "line", "message"),
    [
        (
            3,
            "1,7.0",
            "config/monthly_distribution.csv row 3, field fiscal_month: fiscal month 1 is given twice "
            "(first in row 2)",
        ),
        (
            4,
            "13,9.0",
            "config/monthly_distribution.csv row 4, field fiscal_month: '13' must be a fiscal month "
            "number 1-12",
        ),
        (5, "4,-8", "config/monthly_distribution.csv row 5, field share_pct: '-8' must be >= 0"),
    ],
)
def test_bad_distribution_rows(conn, config_dir: Path, row: int, line: str, message: str) -> None:
    _replace_line(config_dir / "monthly_distribution.csv", row, line)
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == message


def test_distribution_split_requires_the_file(conn, config_dir: Path) -> None:
    settings = config_dir / "settings.yml"
    settings.write_text(
        settings.read_text().replace("target_month_split: equal ", "target_month_split: distribution "),
        encoding="utf-8",
    )
    load_config(conn, config_dir)  # file present: fine
    (config_dir / "monthly_distribution.csv").unlink()
    with pytest.raises(ConfigError) as err:
        load_config(conn, config_dir)
    assert str(err.value) == (
        "config/monthly_distribution.csv: file not found (settings.yml target_month_split is 'distribution')"
    )


def test_bad_split_and_country_settings(conn, config_dir: Path) -> None:
    settings = config_dir / "settings.yml"
    text = settings.read_text()
    settings.write_text(
        text.replace("target_month_split: equal ", "target_month_split: weekly "), encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"field target_month_split: 'weekly' is not one of equal, distribution"
    ):
        load_config(conn, config_dir)
    settings.write_text(text.replace("Europe: DE", "Europe: XX"), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"field calendar_region_countries.Europe: 'XX' is not an ISO 3166 country code"
    ):
        load_config(conn, config_dir)
