"""Money and calendar rules of the commission engine: cent rounding, months, proration, fiscal years.

Every line's amount is rounded half-up (half away from zero) to the cent on its own; statement
totals are sums of rounded lines (docs/commission_engine.md).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    """Half-up (half away from zero) to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def prorate(
    amount: Decimal | None, period: date, hired_on: date | None, left_on: date | None
) -> Decimal | None:
    """``amount`` x active days / days in the month, half-up to the cent. Active days are
    ``[max(hired_on, month start), min(left_on + 1 day, next month))`` (left_on is the last day
    employed) - the same rule as ``marts.fct_sales_targets``."""
    if amount is None:
        return None
    days = calendar.monthrange(period.year, period.month)[1]
    start = max(period, hired_on) if hired_on else period
    end = next_month(period)
    if left_on is not None and left_on + timedelta(days=1) < end:
        end = left_on + timedelta(days=1)
    active = max((end - start).days, 0)
    if active >= days:
        return amount
    return money(amount * active / days)


def fiscal_year_start(day: date, start_month: int = 1) -> date:
    """First day of the fiscal year holding ``day``. FY N starts on the first day of
    ``start_month`` in calendar year N (config/README.md), so with 4, 2027-02-10 is in FY2026."""
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)
