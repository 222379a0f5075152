"""Load the files sales operations maintain in ``config/`` into the warehouse's ``config`` schema.

The files (formats in ``config/README.md``):

* ``settings.yml`` (optional) — fiscal year start month, reporting currency, time zones;
* ``targets.csv`` or ``targets.xlsx`` — sales targets per rep / team / region / company;
* ``exchange_rates.csv`` — monthly rates to the reporting currency;
* ``commission_plan.yml`` — versioned commission plans and who is on which plan when (parsed and
  validated by :mod:`flows.commissions.plan`, the one plan schema);
* ``deal_splits.csv`` (optional) — deals credited to several reps (revenue / overlay splits);
* ``monthly_distribution.csv`` (optional) — share of each fiscal month in a year target;
* ``calendar_overrides.csv`` (optional) — company days off / worked days on top of public holidays;
* ``target_changes.csv`` (optional) — who changed a locked target, when and why.

Besides the files it writes the company calendar (``config.calendar``, built by
:mod:`flows.config.calendar`: working days per country and fiscal periods, so SQL never computes
holidays) and, with :mod:`flows.targets.locking`, refuses a change to a locked target that has no change
record (the history is kept in ``config.target_changes``, which a load never drops).

Everything is validated before anything is written. A problem raises :class:`ConfigError` whose
message names the file, the row (or YAML line), the field and the reason, e.g.
``config/targets.csv row 14, field target_amount: 'abc' is not a number``. Rows are numbered as a
spreadsheet shows them: the header is row 1, the first data row is row 2.

Then every ``config.*`` table is dropped and recreated in one transaction, so dbt never sees a
half-loaded configuration. Money and rates are parsed as :class:`~decimal.Decimal` (never via
binary floating point) and stored as ``DECIMAL``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from flows.commissions.plan import PlanBook
from flows.config.calendar import Override, build_calendar

CONFIG_SCHEMA = "config"

SCOPE_TYPES = ("rep", "team", "region", "company")
GRAINS = ("year", "quarter", "month")
TARGET_COLUMNS = ("scope_type", "scope_key", "grain", "period", "target_amount", "currency")
RATE_COLUMNS = ("currency", "rate_date", "rate_to_reporting")
SPLIT_COLUMNS = ("source", "deal_id", "rep", "share", "split_type")
SPLIT_SOURCES = ("zoho", "fxiaoke")
SPLIT_TYPES = ("revenue", "overlay")
TARGET_MONTH_SPLITS = ("equal", "distribution", "working_days")
DISTRIBUTION_COLUMNS = ("fiscal_month", "share_pct")
OVERRIDE_COLUMNS = ("calendar_date", "country_code", "is_working_day", "name")
CHANGE_COLUMNS = (
    "scope_type",
    "scope_key",
    "grain",
    "period",
    "new_target_amount",
    "currency",
    "changed_by",
    "changed_at",
    "reason",
)
DEFAULT_SETTINGS: dict[str, Any] = {
    "fiscal_year_start_month": 1,
    "reporting_currency": "USD",
    "org_timezone": "Asia/Shanghai",
    "zoho_timezone": "America/Los_Angeles",
    "fxiaoke_timezone": "Asia/Shanghai",
    "target_month_split": "equal",
    "calendar_default_country": "CN",
    "calendar_region_countries": {},
}

_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("9999999999999999.99")  # DECIMAL(18,2)
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PERIOD_RE = {
    "year": re.compile(r"^FY(\d{4})$"),
    "quarter": re.compile(r"^FY(\d{4})-Q([1-4])$"),
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
}


class ConfigError(ValueError):
    """A configuration file is wrong. The message says where (file, row/line, field) and why."""


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _where(file: str, row: int | None = None, field: str | None = None, *, line: bool = False) -> str:
    text = file
    if row is not None:
        text += f" {'line' if line else 'row'} {row}"
    if field is not None:
        text += f", field {field}"
    return text


def _decimal(value: Any, where: str, *, places: int | None = None, minimum: Decimal | None = None) -> Decimal:
    """Parse an exact decimal. ``places`` rejects more decimal places than stored."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{where}: a number is required")
    try:
        if isinstance(value, float):  # openpyxl numbers: use the shortest repr, not the binary value
            value = repr(value)
        number = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise ConfigError(f"{where}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ConfigError(f"{where}: {value!r} is not a number")
    if places is not None and number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ConfigError(f"{where}: {value!r} has more than {places} decimal places")
    if minimum is not None and number < minimum:
        raise ConfigError(f"{where}: {value!r} must be >= {minimum}")
    return number


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _currency(value: Any, where: str) -> str:
    text = str(value or "").strip()
    if not _CURRENCY_RE.match(text):
        raise ConfigError(f"{where}: {value!r} is not a 3-letter upper-case ISO currency code")
    return text


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


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


# --------------------------------------------------------------------------------------------
# settings.yml
# --------------------------------------------------------------------------------------------


def _read_settings(config_dir: Path) -> dict[str, Any]:
    path = config_dir / "settings.yml"
    name = f"{config_dir.name}/settings.yml"
    settings = dict(DEFAULT_SETTINGS)
    if not path.exists():
        return settings
    data = _yaml(path, name)
    if data is None:
        return settings
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a mapping of settings")
    unknown = sorted(set(data) - set(DEFAULT_SETTINGS))
    if unknown:
        raise ConfigError(f"{_where(name, _line(data), unknown[0], line=True)}: unknown setting")
    settings.update(data)
    month = settings["fiscal_year_start_month"]
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ConfigError(
            f"{_where(name, _line(data), 'fiscal_year_start_month', line=True)}: "
            f"{month!r} must be a month number 1-12"
        )
    settings["reporting_currency"] = _currency(
        settings["reporting_currency"], _where(name, _line(data), "reporting_currency", line=True)
    )
    for key in ("org_timezone", "zoho_timezone", "fxiaoke_timezone"):
        if not isinstance(settings[key], str) or not settings[key]:
            raise ConfigError(f"{_where(name, _line(data), key, line=True)}: a time zone name is required")
    if settings["target_month_split"] not in TARGET_MONTH_SPLITS:
        raise ConfigError(
            f"{_where(name, _line(data), 'target_month_split', line=True)}: "
            f"{settings['target_month_split']!r} is not one of {', '.join(TARGET_MONTH_SPLITS)}"
        )
    settings["calendar_default_country"] = _country(
        settings["calendar_default_country"], _where(name, _line(data), "calendar_default_country", line=True)
    )
    regions = settings["calendar_region_countries"] or {}
    if not isinstance(regions, dict):
        raise ConfigError(
            f"{_where(name, _line(data), 'calendar_region_countries', line=True)}: "
            "expected a mapping of region name to country code"
        )
    settings["calendar_region_countries"] = {
        str(region).strip(): _country(
            code,
            _where(name, _line(regions) or _line(data), f"calendar_region_countries.{region}", line=True),
        )
        for region, code in regions.items()
    }
    return settings


def read_settings(config_dir: Path) -> dict[str, Any]:
    """The validated ``settings.yml`` of ``config_dir`` with defaults filled in."""
    return _read_settings(Path(config_dir))


def _country(value: Any, where: str) -> str:
    from flows.config.calendar import supported_country

    code = str(value or "").strip().upper()
    if not supported_country(code):
        raise ConfigError(f"{where}: {value!r} is not an ISO 3166 country code the holidays package knows")
    return code


# --------------------------------------------------------------------------------------------
# targets.csv / targets.xlsx
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scope_type: str
    scope_key: str
    grain: str
    period: str
    period_start: date
    period_end: date
    target_amount: Decimal
    currency: str
    source_file: str
    source_row: int


@dataclass(frozen=True)
class TargetChangeRequest:
    """One line of target_changes.csv: a change to a locked target, with who/when/why."""

    scope_type: str
    scope_key: str
    grain: str
    period: str
    new_target_amount: Decimal
    currency: str
    changed_by: str
    changed_at: datetime
    reason: str
    source_file: str
    source_row: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.scope_type, self.scope_key, self.grain, self.period)


def _csv_rows(path: Path, name: str, columns: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        yield from _check_rows(name, header, reader, columns)


def _xlsx_rows(path: Path, name: str, columns: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        header = [str(c).strip() if c is not None else "" for c in header] if header else None
        yield from _check_rows(name, header, rows, columns)
    finally:
        workbook.close()


def _check_rows(
    name: str, header: list[str] | None, rows: Iterable[Iterable[Any]], columns: Iterable[str]
) -> Iterator[tuple[int, dict[str, Any]]]:
    columns = list(columns)
    if not header:
        raise ConfigError(f"{name} row 1: the file is empty (expected header {', '.join(columns)})")
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ConfigError(f"{_where(name, 1, missing[0])}: column missing from the header")
    for number, raw in enumerate(rows, start=2):
        values = list(raw)
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # blank lines are allowed
        if len(values) > len(header) and any(v not in (None, "") for v in values[len(header) :]):
            raise ConfigError(f"{name} row {number}: more values than header columns")
        record = {h: (values[i] if i < len(values) else None) for i, h in enumerate(header)}
        yield number, record


def _read_targets(config_dir: Path, fiscal_year_start_month: int) -> list[Target]:
    csv_path, xlsx_path = config_dir / "targets.csv", config_dir / "targets.xlsx"
    if csv_path.exists() and xlsx_path.exists():
        raise ConfigError(
            f"{config_dir.name}/targets.csv and {config_dir.name}/targets.xlsx both exist: keep one of them"
        )
    if xlsx_path.exists():
        name = f"{config_dir.name}/targets.xlsx"
        rows = _xlsx_rows(xlsx_path, name, TARGET_COLUMNS)
    elif csv_path.exists():
        name = f"{config_dir.name}/targets.csv"
        rows = _csv_rows(csv_path, name, TARGET_COLUMNS)
    else:
        raise ConfigError(f"{config_dir.name}/targets.csv: file not found (targets.xlsx is accepted too)")

    targets: list[Target] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for number, row in rows:

        def text(field: str, row: dict[str, Any] = row) -> str:
            value = row.get(field)
            if isinstance(value, datetime):
                return value.strftime("%Y-%m")  # Excel turned '2026-10' into a date
            return "" if value is None else str(value).strip()

        scope_type = text("scope_type").lower()
        if scope_type not in SCOPE_TYPES:
            raise ConfigError(
                f"{_where(name, number, 'scope_type')}: {text('scope_type')!r} is not one of "
                f"{', '.join(SCOPE_TYPES)}"
            )
        scope_key = text("scope_key")
        if not scope_key:
            raise ConfigError(f"{_where(name, number, 'scope_key')}: a value is required")
        if scope_type == "company" and scope_key != "company":
            raise ConfigError(f"{_where(name, number, 'scope_key')}: {scope_key!r} must be 'company'")
        if scope_type == "rep":
            scope_key = scope_key.lower()
            if not _EMAIL_RE.match(scope_key):
                raise ConfigError(f"{_where(name, number, 'scope_key')}: {scope_key!r} is not a rep email")
        grain = text("grain").lower()
        if grain not in GRAINS:
            raise ConfigError(
                f"{_where(name, number, 'grain')}: {text('grain')!r} is not one of {', '.join(GRAINS)}"
            )
        period = text("period")
        bounds = period_bounds(grain, period, fiscal_year_start_month)
        if bounds is None:
            example = {"year": "FY2026", "quarter": "FY2026-Q3", "month": "2026-10"}[grain]
            raise ConfigError(
                f"{_where(name, number, 'period')}: {period!r} is not a {grain} period (like {example!r})"
            )
        amount = _decimal(
            row.get("target_amount"), _where(name, number, "target_amount"), places=2, minimum=Decimal(0)
        )
        if amount > _MAX_AMOUNT:
            raise ConfigError(f"{_where(name, number, 'target_amount')}: {amount} is too large")
        currency = _currency(row.get("currency"), _where(name, number, "currency"))
        key = (scope_type, scope_key, grain, period)
        if key in seen:
            raise ConfigError(
                f"{_where(name, number, 'period')}: duplicate target for {scope_type} {scope_key!r} "
                f"{period} (first given in row {seen[key]})"
            )
        seen[key] = number
        targets.append(
            Target(
                scope_type,
                scope_key,
                grain,
                period,
                bounds[0],
                bounds[1],
                amount.quantize(_CENT),
                currency,
                name,
                number,
            )
        )
    return targets


# --------------------------------------------------------------------------------------------
# monthly_distribution.csv, calendar_overrides.csv, target_changes.csv
# --------------------------------------------------------------------------------------------


def _read_distribution(config_dir: Path, required: bool) -> list[tuple[int, Decimal, int]]:
    """(fiscal_month, share_pct, row): 12 months, each once, shares >= 0 totalling exactly 100."""
    path = config_dir / "monthly_distribution.csv"
    name = f"{config_dir.name}/monthly_distribution.csv"
    if not path.exists():
        if required:
            raise ConfigError(f"{name}: file not found (settings.yml target_month_split is 'distribution')")
        return []
    shares: list[tuple[int, Decimal, int]] = []
    seen: dict[int, int] = {}
    last_row = 1
    for number, row in _csv_rows(path, name, DISTRIBUTION_COLUMNS):
        last_row = number
        raw_month = str(row.get("fiscal_month") or "").strip()
        if not raw_month.isdigit() or not 1 <= int(raw_month) <= 12:
            raise ConfigError(
                f"{_where(name, number, 'fiscal_month')}: {raw_month!r} must be a fiscal month number 1-12"
            )
        month = int(raw_month)
        if month in seen:
            raise ConfigError(
                f"{_where(name, number, 'fiscal_month')}: fiscal month {month} is given twice "
                f"(first in row {seen[month]})"
            )
        seen[month] = number
        share = _decimal(
            row.get("share_pct"), _where(name, number, "share_pct"), places=4, minimum=Decimal(0)
        )
        shares.append((month, share, number))
    missing = sorted(set(range(1, 13)) - set(seen))
    if missing:
        raise ConfigError(
            f"{_where(name, last_row, 'fiscal_month')}: fiscal month(s) "
            f"{', '.join(map(str, missing))} missing (give all 12, 0 for a month without target)"
        )
    total = sum((share for _, share, _ in shares), Decimal(0))
    if total != 100:
        raise ConfigError(
            f"{_where(name, last_row, 'share_pct')}: the shares total {total} %, "
            "they must total exactly 100 %"
        )
    return sorted(shares)


def _read_overrides(config_dir: Path, countries: set[str]) -> list[Override]:
    path = config_dir / "calendar_overrides.csv"
    name = f"{config_dir.name}/calendar_overrides.csv"
    if not path.exists():
        return []
    overrides: list[Override] = []
    seen: dict[tuple[str, date], int] = {}
    for number, row in _csv_rows(path, name, OVERRIDE_COLUMNS):
        day = _date(row.get("calendar_date"), _where(name, number, "calendar_date"))
        country = _country(row.get("country_code"), _where(name, number, "country_code"))
        if country not in countries:
            raise ConfigError(
                f"{_where(name, number, 'country_code')}: {country!r} is not a calendar country "
                f"(settings.yml calendar_default_country / calendar_region_countries: "
                f"{', '.join(sorted(countries))})"
            )
        flag = str(row.get("is_working_day") or "").strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{_where(name, number, 'is_working_day')}: {flag!r} must be true or false")
        if (country, day) in seen:
            raise ConfigError(
                f"{_where(name, number, 'calendar_date')}: {country} {day} is given twice "
                f"(first in row {seen[(country, day)]})"
            )
        seen[(country, day)] = number
        label = str(row.get("name") or "").strip() or None
        overrides.append(Override(day, country, flag in ("true", "1", "yes"), label))
    return overrides


def _read_target_changes(config_dir: Path, fiscal_year_start_month: int) -> list[TargetChangeRequest]:
    path = config_dir / "target_changes.csv"
    name = f"{config_dir.name}/target_changes.csv"
    if not path.exists():
        return []
    requests: list[TargetChangeRequest] = []
    for number, row in _csv_rows(path, name, CHANGE_COLUMNS):

        def text(field: str, row: dict[str, Any] = row) -> str:
            value = row.get(field)
            return "" if value is None else str(value).strip()

        scope_type = text("scope_type").lower()
        if scope_type not in SCOPE_TYPES:
            raise ConfigError(
                f"{_where(name, number, 'scope_type')}: {text('scope_type')!r} is not a scope type"
            )
        scope_key = text("scope_key").lower() if scope_type == "rep" else text("scope_key")
        grain = text("grain").lower()
        if grain not in GRAINS or period_bounds(grain, text("period"), fiscal_year_start_month) is None:
            raise ConfigError(
                f"{_where(name, number, 'period')}: {text('period')!r} is not a {grain or '?'} period"
            )
        amount = _decimal(
            row.get("new_target_amount"),
            _where(name, number, "new_target_amount"),
            places=2,
            minimum=Decimal(0),
        )
        currency = _currency(row.get("currency"), _where(name, number, "currency"))
        who = text("changed_by")
        if not who:
            raise ConfigError(f"{_where(name, number, 'changed_by')}: who made the change is required")
        raw_when = text("changed_at")
        try:
            when = datetime.fromisoformat(raw_when)
        except ValueError:
            raise ConfigError(
                f"{_where(name, number, 'changed_at')}: {raw_when!r} is not a date or ISO date-time"
            ) from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        reason = text("reason")
        if len(reason) < 3:
            raise ConfigError(f"{_where(name, number, 'reason')}: why the locked target changed is required")
        requests.append(
            TargetChangeRequest(
                scope_type,
                scope_key,
                grain,
                text("period"),
                amount.quantize(_CENT),
                currency,
                who,
                when,
                reason,
                name,
                number,
            )
        )
    return requests


# --------------------------------------------------------------------------------------------
# deal_splits.csv
# --------------------------------------------------------------------------------------------


def _read_splits(config_dir: Path) -> list[tuple[str, str, str, Decimal, str, int]]:
    """(source, deal_id, rep email, share, split_type, row) of ``deal_splits.csv`` (optional).

    ``share`` is a fraction (0.6 = 60 %), > 0 and <= 1, at most 6 decimal places. A deal's
    ``revenue`` rows total exactly 1; ``overlay`` rows are on top and may total more than 1. A
    (source, deal_id, rep, split_type) appears once."""
    path = config_dir / "deal_splits.csv"
    name = f"{config_dir.name}/deal_splits.csv"
    if not path.exists():
        return []
    splits: list[tuple[str, str, str, Decimal, str, int]] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    revenue: dict[tuple[str, str], list[tuple[int, Decimal]]] = {}
    for number, row in _csv_rows(path, name, SPLIT_COLUMNS):
        source = str(row.get("source") or "").strip().lower()
        if source not in SPLIT_SOURCES:
            raise ConfigError(
                f"{_where(name, number, 'source')}: {row.get('source')!r} is not one of "
                f"{', '.join(SPLIT_SOURCES)}"
            )
        deal_id = str(row.get("deal_id") or "").strip()
        if not deal_id:
            raise ConfigError(f"{_where(name, number, 'deal_id')}: the CRM deal id is required")
        rep = str(row.get("rep") or "").strip().lower()
        if not _EMAIL_RE.match(rep):
            raise ConfigError(f"{_where(name, number, 'rep')}: {row.get('rep')!r} is not a rep email address")
        share = _decimal(row.get("share"), _where(name, number, "share"), places=6)
        if not 0 < share <= 1:
            raise ConfigError(
                f"{_where(name, number, 'share')}: {share} must be > 0 and <= 1 (a fraction: 0.6 = 60 %)"
            )
        split_type = str(row.get("split_type") or "").strip().lower()
        if split_type not in SPLIT_TYPES:
            raise ConfigError(
                f"{_where(name, number, 'split_type')}: {row.get('split_type')!r} is not one of "
                f"{', '.join(SPLIT_TYPES)}"
            )
        key = (source, deal_id, rep, split_type)
        if key in seen:
            raise ConfigError(
                f"{_where(name, number, 'rep')}: {rep} has a second {split_type} split on {source} deal "
                f"{deal_id} (first in row {seen[key]})"
            )
        seen[key] = number
        if split_type == "revenue":
            revenue.setdefault((source, deal_id), []).append((number, share))
        splits.append((source, deal_id, rep, share, split_type, number))
    for (source, deal_id), rows in revenue.items():
        total = sum((share for _, share in rows), Decimal(0))
        if total != 1:
            raise ConfigError(
                f"{_where(name, rows[-1][0], 'share')}: the revenue splits of {source} deal {deal_id} "
                f"(rows {', '.join(str(n) for n, _ in rows)}) total {total}; they must total exactly 1 "
                "(100 %)"
            )
    return splits


# --------------------------------------------------------------------------------------------
# exchange_rates.csv
# --------------------------------------------------------------------------------------------


def _read_rates(config_dir: Path, reporting_currency: str) -> list[tuple[str, date, Decimal, int]]:
    path = config_dir / "exchange_rates.csv"
    name = f"{config_dir.name}/exchange_rates.csv"
    if not path.exists():
        raise ConfigError(f"{name}: file not found")
    rates: list[tuple[str, date, Decimal, int]] = []
    seen: dict[tuple[str, date], int] = {}
    for number, row in _csv_rows(path, name, RATE_COLUMNS):
        currency = _currency(row.get("currency"), _where(name, number, "currency"))
        rate_date = _date(row.get("rate_date"), _where(name, number, "rate_date"))
        if rate_date.day != 1:
            raise ConfigError(
                f"{_where(name, number, 'rate_date')}: {rate_date} must be the first of a month"
            )
        rate = _decimal(row.get("rate_to_reporting"), _where(name, number, "rate_to_reporting"), places=8)
        if rate <= 0:
            raise ConfigError(f"{_where(name, number, 'rate_to_reporting')}: {rate} must be > 0")
        if currency == reporting_currency and rate != 1:
            raise ConfigError(
                f"{_where(name, number, 'rate_to_reporting')}: {rate} must be 1 for the reporting currency "
                f"{reporting_currency}"
            )
        if (currency, rate_date) in seen:
            raise ConfigError(
                f"{_where(name, number, 'rate_date')}: duplicate rate for {currency} {rate_date} "
                f"(first given in row {seen[(currency, rate_date)]})"
            )
        seen[(currency, rate_date)] = number
        rates.append((currency, rate_date, rate, number))
    return rates


# --------------------------------------------------------------------------------------------
# commission_plan.yml
# --------------------------------------------------------------------------------------------


class _LineDict(dict):
    """A YAML mapping that remembers the line it started on."""

    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    result = _LineDict(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Floats are read as exact decimals: 0.05 stays 0.05, never the binary double nearest to it.
_Loader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node))
)


def _yaml(path: Path, name: str) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name} line {mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def _line(node: Any) -> int | None:
    return getattr(node, "line", None)


def _read_plans(config_dir: Path) -> PlanBook:
    """``commission_plan.yml``, parsed and validated by :mod:`flows.commissions.plan` (the one
    schema of plan files: every component type the engine supports). A bad plan raises
    :class:`ConfigError` with the plan parser's message (file, YAML line, field path, reason).
    The nightly run needs assignments (who is on which plan), so this file must have them."""
    from flows.commissions.plan import PlanError, parse_plan_text

    path = config_dir / "commission_plan.yml"
    name = f"{config_dir.name}/commission_plan.yml"
    if not path.exists():
        raise ConfigError(f"{name}: file not found")
    try:
        book = parse_plan_text(path.read_text(encoding="utf-8"), name)
    except PlanError as exc:
        raise ConfigError(str(exc)) from None
    if not book.assignments:
        raise ConfigError(f"{name} (assignments): a non-empty list of assignments is required")
    return book


def _plan_tables(book: PlanBook) -> dict[str, list[tuple[Any, ...]]]:
    """The plan book as the rows of the ``config.commission_plan*`` tables."""
    plans, components, tiers, assignments = [], [], [], []
    for p in book.plans:
        plans.append(
            (p.plan_id, p.version, p.name, p.effective_from, p.effective_to, p.currency, p.credit_on)
        )
        for c in p.components:
            components.append(
                (p.plan_id, p.version, c.component, c.type, c.measure, c.weight, c.tier_position, c.rate)
            )
            for number, band in enumerate(c.tiers or [], start=1):
                tiers.append(
                    (p.plan_id, p.version, c.component, number, band.band_lower, band.band_upper, band.rate)
                )
    for number, a in enumerate(book.assignments or [], start=1):
        assignments.append((number, a.plan_id, a.role, a.rep_email, a.rep_id, a.valid_from, a.valid_to))
    return {
        "commission_plans": plans,
        "commission_plan_components": components,
        "commission_plan_tiers": tiers,
        "commission_plan_assignments": assignments,
    }


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------

_DDL = {
    "settings": "setting_key varchar not null primary key, setting_value varchar not null",
    "targets": """
        scope_type varchar not null, scope_key varchar not null, grain varchar not null,
        period varchar not null, period_start date not null, period_end date not null,
        target_amount decimal(18,2) not null, currency varchar not null,
        source_file varchar not null, source_row integer not null""",
    "exchange_rates": """
        currency varchar not null, rate_date date not null, rate_to_reporting decimal(18,8) not null,
        reporting_currency varchar not null, source_row integer not null""",
    "commission_plans": """
        plan_id varchar not null, plan_version integer not null, plan_name varchar,
        effective_from date not null, effective_to date, currency varchar not null,
        credit_on varchar not null""",
    "commission_plan_components": """
        plan_id varchar not null, plan_version integer not null, component varchar not null,
        component_type varchar not null, measure varchar not null, weight decimal(9,4) not null,
        tier_position varchar not null, rate decimal(9,6)""",
    "commission_plan_tiers": """
        plan_id varchar not null, plan_version integer not null, component varchar not null,
        tier_number integer not null, band_lower decimal(9,4) not null, band_upper decimal(9,4),
        rate decimal(9,6) not null""",
    "commission_plan_assignments": """
        assignment_id integer not null, plan_id varchar not null, role varchar, rep_email varchar,
        rep_id varchar, valid_from date not null, valid_to date""",
    "deal_splits": """
        source varchar not null, source_deal_id varchar not null, rep_email varchar not null,
        split_share decimal(9,6) not null, split_type varchar not null, source_row integer not null""",
    "monthly_distribution": """
        fiscal_month integer not null, share_pct decimal(7,4) not null, source_row integer not null""",
    "calendar_regions": "region_name varchar not null, country_code varchar not null",
    "calendar": """
        calendar_date date not null, country_code varchar not null, is_weekend boolean not null,
        is_public_holiday boolean not null, is_working_day boolean not null, holiday_name varchar,
        day_source varchar not null, fiscal_year integer not null, fiscal_quarter integer not null,
        fiscal_month integer not null, period_month date not null, fiscal_quarter_start date not null,
        fiscal_year_start date not null, month_label varchar not null,
        fiscal_quarter_label varchar not null, fiscal_year_label varchar not null,
        week_start date not null, week_label varchar not null""",
}


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


def read_bundle(config_dir: Path, today: date | None = None) -> ConfigBundle:
    """Validate every file; return the ``config`` table rows and the parsed targets / change records."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise ConfigError(f"{config_dir}: configuration directory not found")
    settings = _read_settings(config_dir)
    reporting = settings["reporting_currency"]
    fy_month = settings["fiscal_year_start_month"]
    rates = _read_rates(config_dir, reporting)
    targets = _read_targets(config_dir, fy_month)
    book = _read_plans(config_dir)
    splits = _read_splits(config_dir)
    distribution = _read_distribution(config_dir, settings["target_month_split"] == "distribution")
    countries = {settings["calendar_default_country"], *settings["calendar_region_countries"].values()}
    overrides = _read_overrides(config_dir, countries)
    changes = _read_target_changes(config_dir, fy_month)

    known = {c for c, *_ in rates} | {reporting}
    for t in targets:
        if t.currency not in known:
            raise ConfigError(
                f"{_where(t.source_file, t.source_row, 'currency')}: {t.currency!r} has no rate in "
                f"{config_dir.name}/exchange_rates.csv"
            )
    for p in book.plans:
        if p.currency != reporting:
            raise ConfigError(
                f"{config_dir.name}/commission_plan.yml plan {p.plan_id} v{p.version}, field currency: "
                f"{p.currency!r} must be the reporting currency {reporting!r}"
            )
    start, end = _calendar_span(targets, today or datetime.now(UTC).date())
    calendar = build_calendar(countries, start, end, fy_month, overrides)
    settings_rows = [
        (k, v if isinstance(v, str) else str(v))
        for k, v in sorted(settings.items())
        if k != "calendar_region_countries"
    ]
    tables: dict[str, list[tuple[Any, ...]]] = {
        "settings": settings_rows,
        "targets": [
            (
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
            for t in targets
        ],
        "exchange_rates": [(c, d, r, reporting, n) for c, d, r, n in rates],
        **_plan_tables(book),
        "deal_splits": splits,
        "monthly_distribution": distribution,
        "calendar_regions": sorted(settings["calendar_region_countries"].items()),
        "calendar": [
            (
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
            for d in calendar
        ],
    }
    return ConfigBundle(tables, targets, changes, settings, config_dir.name)


def read_config(config_dir: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Validate every file and return the rows per ``config`` table (without load metadata)."""
    return read_bundle(config_dir).tables


def load_config(
    conn: duckdb.DuckDBPyConnection, config_dir: Path, run_id: str | None = None
) -> dict[str, int]:
    """Validate ``config_dir`` and (re)create the ``config.*`` tables in one transaction.

    Returns the number of rows written per table (keys are table names without schema). Every
    table also gets ``run_id`` and ``loaded_at`` columns. Nothing is written when a file is wrong,
    or when a locked target changed without a record in ``target_changes.csv``; accepted changes
    are appended to ``config.target_changes`` (never dropped) in the same transaction.
    """
    from flows.targets import locking as target_locks

    bundle = read_bundle(config_dir)
    tables = bundle.tables
    run_id = run_id or "manual"
    loaded_at = datetime.now(UTC)
    # Changes to locked targets need a change record (raises ConfigError naming file, row, field).
    history = target_locks.check_locked_targets(conn, bundle)
    conn.execute("begin transaction")
    try:
        conn.execute(f"create schema if not exists {CONFIG_SCHEMA}")
        target_locks.record_changes(conn, history, run_id)
        for table, rows in tables.items():
            qualified = f"{CONFIG_SCHEMA}.{table}"
            meta = "run_id varchar not null, loaded_at timestamptz not null"
            conn.execute(f"drop table if exists {qualified}")
            conn.execute(f"create table {qualified} ({_DDL[table]}, {meta})")
            if not rows:
                continue
            # Values travel as text and are cast by the insert to the column types: exact decimals.
            frame = pd.DataFrame(
                [[None if v is None else str(v) for v in row] for row in rows],
                columns=[f"c{i}" for i in range(len(rows[0]))],
                dtype=object,
            )
            conn.register("_salesops_config_rows", frame)
            try:
                conn.execute(
                    f"insert into {qualified} select *, ?, ? from _salesops_config_rows", [run_id, loaded_at]
                )
            finally:
                conn.unregister("_salesops_config_rows")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return {table: len(rows) for table, rows in tables.items()}
