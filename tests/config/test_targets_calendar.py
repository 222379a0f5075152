"""flows.config.calendar and config.calendar: working days per country, China's adjusted days,
fiscal periods."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config.calendar import Override, build_calendar, fiscal_labels, fiscal_position
from flows.config.errors import ConfigError
from flows.config.loader import load_config
from flows.config.settings import PROJECT_DIR

SHIPPED = PROJECT_DIR / "config"


def _days(country: str, start: date, end: date, **kw) -> dict[date, object]:
    return {d.calendar_date: d for d in build_calendar([country], start, end, kw.pop("fy", 1), **kw)}


def test_china_spring_festival_2026_and_adjusted_saturdays() -> None:
    feb = _days("CN", date(2026, 2, 1), date(2026, 3, 1))
    working = sorted(d.day for d, row in feb.items() if row.is_working_day)
    # State Council 2026: Spring Festival 15-23 Feb off; Saturdays 14 and 28 Feb are worked
    assert working == [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 24, 25, 26, 27, 28]
    assert feb[date(2026, 2, 14)].is_weekend and feb[date(2026, 2, 14)].day_source == "chinese_calendar"
    assert feb[date(2026, 2, 17)].holiday_name == "Spring Festival"
    assert not feb[date(2026, 2, 17)].is_working_day


def test_china_golden_week_2026() -> None:
    oct_ = _days("CN", date(2026, 10, 1), date(2026, 10, 13))
    assert [d.day for d, r in oct_.items() if not r.is_working_day] == [1, 2, 3, 4, 5, 6, 7, 11]
    assert oct_[date(2026, 10, 10)].is_working_day  # Saturday worked for the National Day holiday


def test_china_after_chinese_calendar_data_falls_back_to_holidays() -> None:
    days = _days("CN", date(2027, 10, 1), date(2027, 10, 2))
    row = days[date(2027, 10, 1)]
    assert (row.is_working_day, row.holiday_name, row.day_source) == (False, "National Day", "holidays")


def test_us_and_germany_public_holidays_and_overrides() -> None:
    us = _days("US", date(2026, 7, 1), date(2026, 7, 6))
    assert not us[date(2026, 7, 3)].is_working_day  # Independence Day observed (the 4th is a Saturday)
    assert us[date(2026, 7, 2)].is_working_day
    de = _days(
        "DE",
        date(2026, 12, 23),
        date(2026, 12, 27),
        overrides=[Override(date(2026, 12, 24), "DE", False, "Company day off")],
    )
    assert [(d.day, r.is_working_day, r.holiday_name) for d, r in de.items()] == [
        (23, True, None),
        (24, False, "Company day off"),
        (25, False, "Christmas Day"),
        (26, False, "Second Day of Christmas"),
    ]
    assert de[date(2026, 12, 24)].day_source == "override"


def test_fiscal_year_starting_in_april() -> None:
    assert fiscal_position(date(2026, 4, 1), 4) == (2026, 1, 1)
    assert fiscal_position(date(2026, 9, 30), 4) == (2026, 2, 6)
    assert fiscal_position(date(2027, 1, 15), 4) == (2026, 4, 10)
    assert fiscal_position(date(2027, 3, 31), 4) == (2026, 4, 12)
    assert fiscal_labels(date(2027, 3, 31), 4) == ("FY2026", "FY2026-Q4", "2027-03")
    assert fiscal_labels(date(2026, 3, 31), 1) == ("FY2026", "FY2026-Q1", "2026-03")
    row = build_calendar(["US"], date(2027, 2, 10), date(2027, 2, 11), 4)[0]
    assert (row.fiscal_year_label, row.fiscal_quarter_label, row.fiscal_month) == ("FY2026", "FY2026-Q4", 11)
    assert (row.fiscal_year_start, row.fiscal_quarter_start, row.period_month) == (
        date(2026, 4, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    )
    # ISO week: 1 Jan 2027 is a Friday (2026-W53), so Monday 4 Jan starts W01 and 8 Feb starts W06
    assert (row.week_start, row.week_label) == (date(2027, 2, 8), "2027-W06")


# ---------------------------------------------------------------------------------------------
# the loader writes config.calendar; SQL reads it
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target)
    return target


def test_loader_writes_calendar_for_every_region_country(config_dir: Path) -> None:
    conn = duckdb.connect()
    counts = load_config(conn, config_dir)
    # shipped targets cover FY2025-FY2027 (fiscal year = calendar year): 2025-2027 plus the current year
    countries = conn.execute("select distinct country_code from config.calendar order by 1").fetchall()
    assert countries == [("CN",), ("DE",), ("US",)]
    assert counts["calendar_regions"] == 4
    row = conn.execute(
        "select is_working_day, holiday_name, fiscal_year_label from config.calendar "
        "where country_code = 'CN' and calendar_date = date '2026-10-01'"
    ).fetchone()
    assert row == (False, "National Day", "FY2026")
    # the shipped override: 24 Dec 2026 off in the US
    assert conn.execute(
        "select is_working_day, holiday_name from config.calendar "
        "where country_code = 'US' and calendar_date = date '2026-12-24'"
    ).fetchone() == (False, "Company day off (Christmas Eve)")


def test_fiscal_april_setting_reaches_the_calendar(config_dir: Path) -> None:
    settings = config_dir / "settings.yml"
    settings.write_text(
        settings.read_text().replace("fiscal_year_start_month: 1 ", "fiscal_year_start_month: 4 "),
        encoding="utf-8",
    )
    conn = duckdb.connect()
    load_config(conn, config_dir)
    assert conn.execute(
        "select period_start, period_end from config.targets "
        "where scope_type = 'company' and period = 'FY2026'"
    ).fetchone() == (date(2026, 4, 1), date(2027, 4, 1))
    assert conn.execute(
        "select fiscal_year_label, fiscal_quarter_label from config.calendar "
        "where country_code = 'CN' and calendar_date = date '2026-03-31'"
    ).fetchone() == ("FY2025", "FY2025-Q4")
    # the calendar reaches into March 2028 (FY2027 ends there)
    assert conn.execute("select max(calendar_date) from config.calendar").fetchone()[0] == date(2028, 12, 31)


def test_override_for_a_country_without_a_region_is_rejected(config_dir: Path) -> None:
    (config_dir / "calendar_overrides.csv").write_text(
        "calendar_date,country_code,is_working_day,name\n2026-05-01,FR,false,Bridge day\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_config(duckdb.connect(), config_dir)
    assert str(err.value) == (
        "config/calendar_overrides.csv row 2, field country_code: 'FR' is not a calendar country "
        "(settings.yml calendar_default_country / calendar_region_countries: CN, DE, US)"
    )
