"""``config/targets.csv`` (or ``targets.xlsx``) and ``config/target_changes.csv``, one row model each.

A target is whose (scope), for which period (grain + period, fiscal years and quarters) and how
much in which currency; a change record says who changed a locked target, when and why (checked
against the locks by :mod:`flows.config.target_locks`). Formats: ``config/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator

from flows.config import fields
from flows.config.calendar import period_bounds
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validate, validated_rows, xlsx_rows

SCOPE_TYPES = ("rep", "team", "region", "company")
GRAINS = ("year", "quarter", "month")
TARGET_COLUMNS = ("scope_type", "scope_key", "grain", "period", "target_amount", "currency")
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
_PERIOD_EXAMPLES = {"year": "FY2026", "quarter": "FY2026-Q3", "month": "2026-10"}

Key = tuple[str, str, str, str]


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


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m")  # Excel turned '2026-10' into a date
    return fields.text(value)


class TargetRow(ConfigRow):
    """One line of targets.csv / targets.xlsx (context: ``fiscal_year_start_month``)."""

    scope_type: str
    scope_key: str
    grain: str
    period: str
    target_amount: Decimal
    currency: str

    @field_validator("scope_type", mode="before")
    @classmethod
    def _scope_type(cls, value: Any) -> str:
        return fields.one_of(_cell(value), SCOPE_TYPES, _cell(value))

    @field_validator("scope_key", mode="before")
    @classmethod
    def _scope_key(cls, value: Any, info: ValidationInfo) -> str:
        scope_key, scope_type = _cell(value), info.data.get("scope_type")
        if not scope_key:
            raise ValueError("a value is required")
        if scope_type == "company" and scope_key != "company":
            raise ValueError(f"{scope_key!r} must be 'company'")
        if scope_type == "rep":
            scope_key = scope_key.lower()
            if not fields.EMAIL_RE.match(scope_key):
                raise ValueError(f"{scope_key!r} is not a rep email")
        return scope_key

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: Any) -> str:
        return fields.one_of(_cell(value), GRAINS, _cell(value))

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any, info: ValidationInfo) -> str:
        period, grain = _cell(value), info.data.get("grain")
        if (
            grain is not None
            and period_bounds(grain, period, info.context["fiscal_year_start_month"]) is None
        ):
            raise ValueError(f"{period!r} is not a {grain} period (like {_PERIOD_EXAMPLES[grain]!r})")
        return period

    @field_validator("target_amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        amount = fields.decimal(value, places=2, minimum=Decimal(0))
        if amount > fields.MAX_AMOUNT:
            raise ValueError(f"{amount} is too large")
        return amount.quantize(fields.CENT)

    _currency = field_validator("currency", mode="before")(fields.currency)

    @property
    def key(self) -> Key:
        return (self.scope_type, self.scope_key, self.grain, self.period)


def read_targets(config_dir: Path, fiscal_year_start_month: int) -> list[Target]:
    csv_path, xlsx_path = config_dir / "targets.csv", config_dir / "targets.xlsx"
    if csv_path.exists() and xlsx_path.exists():
        raise ConfigError(
            f"{config_dir.name}/targets.csv and {config_dir.name}/targets.xlsx both exist: keep one of them"
        )
    if xlsx_path.exists():
        name = f"{config_dir.name}/targets.xlsx"
        rows = xlsx_rows(xlsx_path, name, TARGET_COLUMNS)
    elif csv_path.exists():
        name = f"{config_dir.name}/targets.csv"
        rows = csv_rows(csv_path, name, TARGET_COLUMNS)
    else:
        raise ConfigError(f"{config_dir.name}/targets.csv: file not found (targets.xlsx is accepted too)")
    context = {"fiscal_year_start_month": fiscal_year_start_month}
    targets: list[Target] = []
    seen: dict[Key, int] = {}
    for number, row in validated_rows(rows, TargetRow, name, context):
        if row.key in seen:
            raise ConfigError(
                f"{where(name, number, 'period')}: duplicate target for {row.scope_type} {row.scope_key!r} "
                f"{row.period} (first given in row {seen[row.key]})"
            )
        seen[row.key] = number
        start, end = period_bounds(row.grain, row.period, fiscal_year_start_month)  # type: ignore[misc]
        targets.append(Target(*row.key, start, end, row.target_amount, row.currency, name, number))
    return targets


class TargetChangeRequest(ConfigRow):
    """One line of target_changes.csv: a change to a locked target, with who/when/why (context:
    ``fiscal_year_start_month``; ``source_file`` and ``source_row`` are given by the reader)."""

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

    @field_validator("scope_type", mode="before")
    @classmethod
    def _scope_type(cls, value: Any) -> str:
        scope_type = fields.text(value).lower()
        if scope_type not in SCOPE_TYPES:
            raise ValueError(f"{fields.text(value)!r} is not a scope type")
        return scope_type

    @field_validator("scope_key", mode="before")
    @classmethod
    def _scope_key(cls, value: Any, info: ValidationInfo) -> str:
        return fields.text(value).lower() if info.data.get("scope_type") == "rep" else fields.text(value)

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: Any) -> str:
        return fields.text(value).lower()

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any, info: ValidationInfo) -> str:
        period, grain = fields.text(value), info.data.get("grain", "")
        fy_month = info.context["fiscal_year_start_month"]
        if grain not in GRAINS or period_bounds(grain, period, fy_month) is None:
            raise ValueError(f"{period!r} is not a {grain or '?'} period")
        return period

    @field_validator("new_target_amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        # quantized once the whole row is valid (read_target_changes)
        return fields.decimal(value, places=2, minimum=Decimal(0))

    _currency = field_validator("currency", mode="before")(fields.currency)

    @field_validator("changed_by", mode="before")
    @classmethod
    def _who(cls, value: Any) -> str:
        if not fields.text(value):
            raise ValueError("who made the change is required")
        return fields.text(value)

    @field_validator("changed_at", mode="before")
    @classmethod
    def _when(cls, value: Any) -> datetime:
        try:
            when = datetime.fromisoformat(fields.text(value))
        except ValueError:
            raise ValueError(f"{fields.text(value)!r} is not a date or ISO date-time") from None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> str:
        if len(fields.text(value)) < 3:
            raise ValueError("why the locked target changed is required")
        return fields.text(value)

    @property
    def key(self) -> Key:
        return (self.scope_type, self.scope_key, self.grain, self.period)


def read_target_changes(config_dir: Path, fiscal_year_start_month: int) -> list[TargetChangeRequest]:
    path = config_dir / "target_changes.csv"
    name = f"{config_dir.name}/target_changes.csv"
    if not path.exists():
        return []
    context = {"fiscal_year_start_month": fiscal_year_start_month}
    requests = []
    for number, record in csv_rows(path, name, CHANGE_COLUMNS):
        row = {**record, "source_file": name, "source_row": number}
        request = validate(TargetChangeRequest, row, lambda field, n=number: where(name, n, field), context)
        # cents once the whole row is valid, like the target amounts
        requests.append(
            request.model_copy(update={"new_target_amount": request.new_target_amount.quantize(fields.CENT)})
        )
    return requests
