"""The company calendar: which days are working days, per country, and the fiscal calendar.

Written into ``config.calendar`` by the configuration load so that SQL never computes weekends,
holidays or fiscal periods itself. Public holidays come from ``holidays``, China's worked weekend
days (调休) from ``chinese_calendar``, company overrides win over both; the rules are in
docs/configuration.md ("The company calendar").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import holidays
from holidays.registry import EntityLoader

WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())
_PERIOD_RE = {
    "year": re.compile(r"^FY(\d{4})$"),
    "quarter": re.compile(r"^FY(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}


@dataclass(frozen=True)
class CalendarDay:
    calendar_date: date
    country_code: str
    is_weekend: bool
    is_public_holiday: bool
    is_working_day: bool
    holiday_name: str | None
    day_source: str  # weekday | weekend | holidays | chinese_calendar | override
    fiscal_year: int
    fiscal_quarter: int
    fiscal_month: int
    period_month: date
    fiscal_quarter_start: date
    fiscal_year_start: date
    month_label: str  # '2026-10'
    fiscal_quarter_label: str  # 'FY2026-Q3'
    fiscal_year_label: str  # 'FY2026'
    week_start: date  # Monday of the ISO week
    week_label: str  # ISO week '2026-W14'


@dataclass(frozen=True)
class Override:
    calendar_date: date
    country_code: str
    is_working_day: bool
    name: str | None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def fiscal_position(day: date, fiscal_year_start_month: int) -> tuple[int, int, int]:
    """(fiscal year, fiscal quarter 1-4, fiscal month 1-12) of ``day``.

    FY N starts on the first day of ``fiscal_year_start_month`` in calendar year N: with April,
    2027-03-31 is FY2026 Q4 month 12 and 2026-04-01 is FY2026 Q1 month 1.
    """
    year = day.year if day.month >= fiscal_year_start_month else day.year - 1
    month = (day.month - fiscal_year_start_month) % 12 + 1
    return year, (month - 1) // 3 + 1, month


def period_bounds(grain: str, period: str, fiscal_year_start_month: int) -> tuple[date, date] | None:
    """``[start, end)`` of a target period, or None when ``period`` does not match ``grain``.

    FY<N> starts on the first day of ``fiscal_year_start_month`` in calendar year N
    (with the default start month 1, FY2026 is calendar 2026); Q1 is its first three months.
    """
    match = _PERIOD_RE[grain].match(period)
    if not match:
        return None
    if grain == "month":
        start = date(int(match.group(1)), int(match.group(2)), 1)
        return start, _add_months(start, 1)
    fy_start = date(int(match.group(1)), fiscal_year_start_month, 1)
    if grain == "year":
        return fy_start, _add_months(fy_start, 12)
    start = _add_months(fy_start, 3 * (int(match.group(2)) - 1))
    return start, _add_months(start, 3)


def fiscal_labels(day: date, fiscal_year_start_month: int) -> tuple[str, str, str]:
    """('FY2026', 'FY2026-Q3', '2026-10') for ``day``: the target file's period spellings."""
    year, quarter, _ = fiscal_position(day, fiscal_year_start_month)
    return f"FY{year}", f"FY{year}-Q{quarter}", f"{day.year:04d}-{day.month:02d}"


def _chinese_day(day: date) -> tuple[bool, str | None] | None:
    """(is_working_day, holiday name) from chinese_calendar, or None when it has no data."""
    import chinese_calendar

    try:
        working = chinese_calendar.is_workday(day)
        _, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return working, (name if not working and name else None)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def build_calendar(
    countries: Iterable[str],
    start: date,
    end: date,
    fiscal_year_start_month: int,
    overrides: Iterable[Override] = (),
) -> list[CalendarDay]:
    """Every day of ``[start, end)`` for every country, with working-day flags and fiscal periods."""
    by_key = {(o.country_code, o.calendar_date): o for o in overrides}
    years = list(range(start.year, end.year + 1))
    rows: list[CalendarDay] = []
    for country in sorted(set(countries)):
        public = holidays.country_holidays(country, years=years)
        for day in _days(start, end):
            is_weekend = day.weekday() in WEEKEND
            name = public.get(day)
            is_holiday = name is not None
            working = not is_weekend and not is_holiday
            source = "holidays" if is_holiday else ("weekend" if is_weekend else "weekday")
            if country == "CN":
                official = _chinese_day(day)
                if official is not None:
                    working, cn_name = official
                    is_holiday = cn_name is not None
                    name = cn_name or (None if working or is_weekend else name)
                    if is_weekend and working:
                        source = "chinese_calendar"  # adjusted working weekend (调休)
                    elif is_holiday:
                        source = "chinese_calendar"
                    else:
                        source = "weekend" if is_weekend else "weekday"
            override = by_key.get((country, day))
            if override is not None:
                working = override.is_working_day
                name = override.name if not working else name
                is_holiday = is_holiday if working else (not is_weekend or is_holiday)
                source = "override"
            fy, fq, fm = fiscal_position(day, fiscal_year_start_month)
            fy_start = date(fy, fiscal_year_start_month, 1)
            rows.append(
                CalendarDay(
                    calendar_date=day,
                    country_code=country,
                    is_weekend=is_weekend,
                    is_public_holiday=bool(is_holiday),
                    is_working_day=bool(working),
                    holiday_name=name if not working else None,
                    day_source=source,
                    fiscal_year=fy,
                    fiscal_quarter=fq,
                    fiscal_month=fm,
                    period_month=date(day.year, day.month, 1),
                    fiscal_quarter_start=_add_months(fy_start, 3 * (fq - 1)),
                    fiscal_year_start=fy_start,
                    month_label=f"{day.year:04d}-{day.month:02d}",
                    fiscal_quarter_label=f"FY{fy}-Q{fq}",
                    fiscal_year_label=f"FY{fy}",
                    week_start=day - timedelta(days=day.weekday()),
                    week_label="{}-W{:02d}".format(*day.isocalendar()[:2]),
                )
            )
    return rows


def supported_country(code: str) -> bool:
    """Whether ``holidays`` knows the country code (aliases such as ``UK`` too). Read from its
    registry: ``holidays.list_supported_countries()`` imports all ~250 country modules to list
    their subdivisions, 0.4 s that every ``settings.yml`` read paid (the commission engine too)."""
    return code in _COUNTRY_CODES


_COUNTRY_CODES = frozenset(EntityLoader.get_country_codes(include_aliases=True))
