"""``config/settings.yml``: fiscal year, reporting currency, time zones, target splits, calendar countries,
number locale.

The file is optional and every key has a default; unknown keys are rejected (they are typos). An
error names the file, the line of the settings mapping (or of ``calendar_region_countries`` for
one of its entries) and the key, e.g. ``config/settings.yml line 3, field target_month_split: 'x'
is not one of equal, distribution, working_days``. Keys and meanings: ``config/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.rows import validate
from flows.config.yaml_lines import line_of, load_yaml

TARGET_MONTH_SPLITS = ("equal", "distribution", "working_days")
TARGET_DAY_SPLITS = ("working_days", "calendar_days")


class CompanySettings(BaseModel):
    """The validated settings.yml. Fields are checked in this order (the first problem is reported)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fiscal_year_start_month: int = 1
    reporting_currency: str = "USD"
    org_timezone: str = "Asia/Shanghai"
    zoho_timezone: str = "America/Los_Angeles"
    fxiaoke_timezone: str = "Asia/Shanghai"
    target_month_split: str = "equal"
    target_day_split: str = "working_days"  # month -> day: the working days, or every calendar day
    calendar_default_country: str = "CN"
    calendar_region_countries: dict[str, str] = {}
    number_locale: str | None = None  # how numbers typed as text in the CSV/XLSX files are written

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"@{unknown[0]}: unknown setting")
        return data

    @field_validator("fiscal_year_start_month", mode="before")
    @classmethod
    def _month(cls, month: Any) -> int:
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise ValueError(f"{month!r} must be a month number 1-12")
        return month

    _currency = field_validator("reporting_currency", mode="before")(fields.currency)
    _country = field_validator("calendar_default_country", mode="before")(fields.country)
    _locale = field_validator("number_locale", mode="before")(fields.number_locale)

    @field_validator("org_timezone", "zoho_timezone", "fxiaoke_timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError("a time zone name is required")
        return value

    @field_validator("target_month_split", "target_day_split", mode="before")
    @classmethod
    def _split(cls, value: Any, info: ValidationInfo) -> str:
        choices = TARGET_MONTH_SPLITS if info.field_name == "target_month_split" else TARGET_DAY_SPLITS
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    @field_validator("calendar_region_countries", mode="before")
    @classmethod
    def _regions(cls, regions: Any) -> dict[str, str]:
        regions = regions or {}
        if not isinstance(regions, dict):
            raise ValueError("expected a mapping of region name to country code")
        countries = {}
        for region, code in regions.items():
            try:
                countries[str(region).strip()] = fields.country(code)
            except ValueError as exc:
                raise ValueError(f"@calendar_region_countries.{region}: {exc}") from None
        return countries


def read_settings(config_dir: Path) -> dict[str, Any]:
    """The validated ``settings.yml`` of ``config_dir`` with defaults filled in."""
    config_dir = Path(config_dir)
    path = config_dir / "settings.yml"
    name = f"{config_dir.name}/settings.yml"
    if not path.exists():
        return CompanySettings().model_dump()
    data = load_yaml(path.read_text(encoding="utf-8"), name, ConfigError)
    if data is None:
        return CompanySettings().model_dump()
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping of settings")

    def at(field: str | None) -> str:
        # an entry of calendar_region_countries is found on the line of that mapping
        nested = field is not None and "." in field
        line = (line_of(data.get("calendar_region_countries")) if nested else None) or line_of(data)
        return where(name, line, field, line=True)

    return validate(CompanySettings, data, at).model_dump()
