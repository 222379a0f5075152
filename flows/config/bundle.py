"""Read and validate every file of a configuration directory into the rows of the ``config`` tables.

Nothing is written here (:mod:`flows.config.loader` writes); ``salesops targets check`` reads a
bundle too. Checks across files (a target's currency needs a rate, plans are in the reporting
currency) happen after each file passed its own checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flows.config import fields
from flows.config.calendar import CalendarDay, build_calendar
from flows.config.calendar_overrides import read_overrides
from flows.config.commission_adjustments import read_config_adjustments
from flows.config.commission_plan import PlanBook
from flows.config.company_settings import read_settings
from flows.config.deal_splits import read_splits
from flows.config.errors import ConfigError, where
from flows.config.exchange_rates import read_rates
from flows.config.monthly_distribution import read_distribution
from flows.config.plans import plan_tables, read_plans
from flows.config.target_files import Target, TargetChangeRequest, read_target_changes, read_targets


@dataclass
class ConfigBundle:
    """Everything read from a configuration directory."""

    tables: dict[str, list[tuple[Any, ...]]]
    targets: list[Target]
    change_requests: list[TargetChangeRequest]
    settings: dict[str, Any]
    config_name: str


def _calendar_span(targets: list[Target], today: date) -> tuple[date, date]:
    """Whole calendar years covering every target period and the current year."""
    first = min([t.period_start for t in targets] + [today])
    last = max([t.period_end for t in targets] + [today])
    return date(first.year, 1, 1), date(last.year + 1, 1, 1)


def _check_currencies(
    config_dir: Path, reporting: str, rates: list[Any], targets: list[Target], book: PlanBook
) -> None:
    """Every target currency has a rate; every plan pays in the reporting currency.

    The reporting currency needs its rows too (rate 1): dbt converts every amount through this
    file, so without them every converted amount would be null and the run would stop on a dbt
    test's name instead of this file and the currency.
    """
    known = {c for c, *_ in rates}
    if reporting not in known:
        first = min([t.period_start for t in targets] + [r[1] for r in rates], default=None)
        raise ConfigError(
            f"{config_dir.name}/exchange_rates.csv: no rate for currency {reporting}"
            + (f" on/before {first}" if first else "")
            + f" (the reporting currency: add its months with rate_to_reporting 1, e.g. {reporting},"
            + f"{(first or date.today()).replace(day=1)},1)"
        )
    for t in targets:
        if t.currency not in known:
            raise ConfigError(
                f"{where(t.source_file, t.source_row, 'currency')}: {t.currency!r} has no rate in "
                f"{config_dir.name}/exchange_rates.csv"
            )
    for p in book.plans:
        if p.currency != reporting:
            raise ConfigError(
                f"{config_dir.name}/commission_plan.yml plan {p.plan_id} v{p.version}, field currency: "
                f"{p.currency!r} must be the reporting currency {reporting!r}"
            )


def _check_nightly_filters(config_dir: Path, book: PlanBook) -> None:
    """A SPIF ``segments`` filter would match no credit in the nightly, which has no stable segment
    per deal (the RFM segment changes daily, and would re-pay closed months): refused here, never
    quietly unpaid. ``commissions estimate`` takes it with the credit (a ``segment`` column)."""
    for p in book.plans:
        for comp in p.components:
            if comp.filters is not None and comp.filters.segments:
                raise ConfigError(
                    f"{config_dir.name}/commission_plan.yml plan {p.plan_id} v{p.version} component "
                    f"{comp.component}, field filters.segments: the nightly has no segment per deal, so this "
                    "SPIF would pay nobody; filter on products, industries or min_deal_amount (segments "
                    "work in `salesops commissions estimate`, whose credits carry a segment column)"
                )


def _target_row(t: Target) -> tuple[Any, ...]:
    return (
        t.scope_type,
        t.scope_key,
        t.grain,
        t.period,
        t.period_start,
        t.period_end,
        t.target_amount,
        t.currency,
        t.source_file,
        t.source_row,
    )


def _calendar_row(d: CalendarDay) -> tuple[Any, ...]:
    return (
        d.calendar_date,
        d.country_code,
        d.is_weekend,
        d.is_public_holiday,
        d.is_working_day,
        d.holiday_name,
        d.day_source,
        d.fiscal_year,
        d.fiscal_quarter,
        d.fiscal_month,
        d.period_month,
        d.fiscal_quarter_start,
        d.fiscal_year_start,
        d.month_label,
        d.fiscal_quarter_label,
        d.fiscal_year_label,
        d.week_start,
        d.week_label,
    )


def read_bundle(config_dir: Path, today: date | None = None) -> ConfigBundle:
    """Validate every file; return the ``config`` table rows and the parsed targets / change records."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise ConfigError(f"{config_dir}: configuration directory not found")
    settings = read_settings(config_dir)
    reporting = settings["reporting_currency"]
    fy_month = settings["fiscal_year_start_month"]
    countries = {settings["calendar_default_country"], *settings["calendar_region_countries"].values()}
    with fields.numbers_in(settings["number_locale"]):
        rates = read_rates(config_dir, reporting)
        targets = read_targets(config_dir, fy_month)
        book = read_plans(config_dir)
        splits = read_splits(config_dir)
        read_config_adjustments(config_dir)  # optional; the engine reads it (a bad file fails here)
        distribution = read_distribution(config_dir, settings["target_month_split"] == "distribution")
        overrides = read_overrides(config_dir, countries)
        changes = read_target_changes(config_dir, fy_month)
    _check_currencies(config_dir, reporting, rates, targets, book)
    _check_nightly_filters(config_dir, book)

    start, end = _calendar_span(targets, today or datetime.now(UTC).date())
    calendar = build_calendar(countries, start, end, fy_month, overrides)
    settings_rows = [
        (k, v if isinstance(v, str) else str(v))
        for k, v in sorted(settings.items())
        if k != "calendar_region_countries" and v is not None
    ]
    tables: dict[str, list[tuple[Any, ...]]] = {
        "settings": settings_rows,
        "targets": [_target_row(t) for t in targets],
        "exchange_rates": [(c, d, r, reporting, n) for c, d, r, n in rates],
        **plan_tables(book),
        "deal_splits": splits,
        "monthly_distribution": distribution,
        "calendar_regions": sorted(settings["calendar_region_countries"].items()),
        "calendar": [_calendar_row(d) for d in calendar],
    }
    return ConfigBundle(tables, targets, changes, settings, config_dir.name)


def read_config(config_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Validate every file and return the rows per ``config`` table (without load metadata)."""
    return read_bundle(config_dir).tables
