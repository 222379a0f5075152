"""``config/exchange_rates.csv``: the monthly rate of each currency to the reporting currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validated_rows

RATE_COLUMNS = ("currency", "rate_date", "rate_to_reporting")


class ExchangeRateRow(ConfigRow):
    """One rate: valid for the month starting on ``rate_date`` (context: ``reporting_currency``)."""

    currency: str
    rate_date: date
    rate_to_reporting: Decimal

    _currency = field_validator("currency", mode="before")(fields.currency)

    @field_validator("rate_date", mode="before")
    @classmethod
    def _first_of_month(cls, value: Any) -> date:
        rate_date = fields.iso_date(value)
        if rate_date.day != 1:
            raise ValueError(f"{rate_date} must be the first of a month")
        return rate_date

    @field_validator("rate_to_reporting", mode="before")
    @classmethod
    def _rate(cls, value: Any, info: ValidationInfo) -> Decimal:
        rate = fields.decimal(value, places=8)
        if rate <= 0:
            raise ValueError(f"{rate} must be > 0")
        reporting = info.context["reporting_currency"]
        if info.data.get("currency") == reporting and rate != 1:
            raise ValueError(f"{rate} must be 1 for the reporting currency {reporting}")
        return rate


def read_rates(config_dir: Path, reporting_currency: str) -> list[tuple[str, date, Decimal, int]]:
    """(currency, rate_date, rate, row) of every rate; a currency has one rate per month."""
    path = config_dir / "exchange_rates.csv"
    name = f"{config_dir.name}/exchange_rates.csv"
    if not path.exists():
        raise ConfigError(f"{name}: file not found")
    rates: list[tuple[str, date, Decimal, int]] = []
    seen: dict[tuple[str, date], int] = {}
    rows = csv_rows(path, name, RATE_COLUMNS)
    for number, row in validated_rows(
        rows, ExchangeRateRow, name, {"reporting_currency": reporting_currency}
    ):
        key = (row.currency, row.rate_date)
        if key in seen:
            raise ConfigError(
                f"{where(name, number, 'rate_date')}: duplicate rate for {row.currency} {row.rate_date} "
                f"(first given in row {seen[key]})"
            )
        seen[key] = number
        rates.append((row.currency, row.rate_date, row.rate_to_reporting, number))
    return rates
