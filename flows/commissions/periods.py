"""Measurement periods: the fiscal month, quarter, half or year a component measures attainment,
tiers, gates, accelerators, caps and bonuses on, while pay stays monthly.

Fiscal periods follow ``config/settings.yml`` ``fiscal_year_start_month`` (the calendar of
:mod:`flows.config.calendar`): FY N starts on the first day of that month in calendar year N,
quarters and halves count from there (docs/commission_plans.md, "Measurement periods").
"""

from __future__ import annotations

from datetime import date

from flows.config.calendar import fiscal_position

MONTHS_IN = {"month": 1, "quarter": 3, "half": 6, "year": 12}


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_start(month: date, kind: str, fiscal_year_start_month: int = 1) -> date:
    """First month of the ``kind`` measurement period holding ``month``."""
    _, _, fiscal_month = fiscal_position(month, fiscal_year_start_month)
    size = MONTHS_IN[kind]
    return add_months(month.replace(day=1), -((fiscal_month - 1) % size))


def period_months(start: date, kind: str) -> list[date]:
    """Every month of the measurement period starting at ``start``."""
    return [add_months(start, i) for i in range(MONTHS_IN[kind])]


def period_label(start: date, kind: str, fiscal_year_start_month: int = 1) -> str:
    """``2026-10`` | ``FY2026-Q4`` | ``FY2026-H2`` | ``FY2026`` - the fiscal name of a period."""
    year, quarter, fiscal_month = fiscal_position(start, fiscal_year_start_month)
    if kind == "quarter":
        return f"FY{year}-Q{quarter}"
    if kind == "half":
        return f"FY{year}-H{(fiscal_month - 1) // 6 + 1}"
    if kind == "year":
        return f"FY{year}"
    return f"{start:%Y-%m}"
