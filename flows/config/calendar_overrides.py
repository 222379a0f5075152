"""``config/calendar_overrides.csv`` (optional): company days off and worked days.

They win over public holidays and weekends in :func:`flows.config.calendar.build_calendar`; a
country must be one of the calendar countries of settings.yml.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator

from flows.config import fields
from flows.config.calendar import Override
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validated_rows

OVERRIDE_COLUMNS = ("calendar_date", "country_code", "is_working_day", "name")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class CalendarOverrideRow(ConfigRow):
    """One override (context: ``countries``, the calendar countries of settings.yml)."""

    calendar_date: date
    country_code: str
    is_working_day: bool
    name: str | None

    _date = field_validator("calendar_date", mode="before")(fields.iso_date)

    @field_validator("country_code", mode="before")
    @classmethod
    def _country(cls, value: Any, info: ValidationInfo) -> str:
        country, countries = fields.country(value), info.context["countries"]
        if country not in countries:
            raise ValueError(
                f"{country!r} is not a calendar country (settings.yml calendar_default_country / "
                f"calendar_region_countries: {', '.join(sorted(countries))})"
            )
        return country

    @field_validator("is_working_day", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        flag = str(value or "").strip().lower()
        if flag not in _TRUE + _FALSE:
            raise ValueError(f"{flag!r} must be true or false")
        return flag in _TRUE

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str | None:
        return str(value or "").strip() or None


def read_overrides(config_dir: Path, countries: set[str]) -> list[Override]:
    path = config_dir / "calendar_overrides.csv"
    name = f"{config_dir.name}/calendar_overrides.csv"
    if not path.exists():
        return []
    overrides: list[Override] = []
    seen: dict[tuple[str, date], int] = {}
    rows = csv_rows(path, name, OVERRIDE_COLUMNS)
    for number, row in validated_rows(rows, CalendarOverrideRow, name, {"countries": countries}):
        key = (row.country_code, row.calendar_date)
        if key in seen:
            raise ConfigError(
                f"{where(name, number, 'calendar_date')}: {row.country_code} {row.calendar_date} is given "
                f"twice (first in row {seen[key]})"
            )
        seen[key] = number
        overrides.append(Override(row.calendar_date, row.country_code, row.is_working_day, row.name))
    return overrides
