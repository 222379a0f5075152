"""``config/commission_adjustments.csv`` (optional): manual commission adjustments - a one-off
bonus or a correction - with the reason and who approved it.

Columns ``rep, period, amount, reason, approved_by``: ``rep`` is the rep id (or e-mail) as the
statements show it (matched case-insensitively), ``period`` the month ``YYYY-MM`` the adjustment
is for, ``amount`` a signed amount in the reporting currency with at most 2 decimals (not 0),
``reason`` and ``approved_by`` are required text. A (rep, period, reason) appears once: it is the
adjustment's identity, so changing its amount later posts the difference. A bad file is rejected
naming file, row and field; what the engine does with the rows: :mod:`flows.commissions.adjustments`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import field_validator

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validated_rows

ADJUSTMENT_COLUMNS = ("rep", "period", "amount", "reason", "approved_by")
FILE_NAME = "commission_adjustments.csv"


@dataclass(frozen=True)
class ManualAdjustment:
    rep: str
    period: date
    amount: Decimal
    reason: str
    approved_by: str
    source_row: int


class AdjustmentRow(ConfigRow):
    rep: str
    period: date
    amount: Decimal
    reason: str
    approved_by: str

    @field_validator("rep", "reason", "approved_by", mode="before")
    @classmethod
    def _required(cls, value: Any) -> str:
        text = fields.text(value)
        if not text:
            raise ValueError("a value is required")
        return text

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any) -> date:
        text = fields.text(value)
        try:
            return date.fromisoformat(f"{text}-01")
        except ValueError:
            raise ValueError(f"{value!r} is not a month (YYYY-MM)") from None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Decimal:
        amount = fields.decimal(value, places=2)
        if amount == 0:
            raise ValueError("an adjustment of 0 changes nothing: give a signed amount")
        return amount


def read_adjustments(path: Path, name: str | None = None) -> list[ManualAdjustment]:
    """The rows of an adjustments file; an absent file is no adjustments."""
    path = Path(path)
    name = name or str(path)
    if not path.exists():
        return []
    out: list[ManualAdjustment] = []
    seen: dict[tuple[str, date, str], int] = {}
    for number, row in validated_rows(csv_rows(path, name, ADJUSTMENT_COLUMNS), AdjustmentRow, name):
        key = (row.rep.casefold(), row.period, row.reason.casefold())
        if key in seen:
            raise ConfigError(
                f"{where(name, number, 'reason')}: {row.rep} {row.period:%Y-%m} has this reason already "
                f"(row {seen[key]}); give each adjustment of a rep and month its own reason"
            )
        seen[key] = number
        out.append(ManualAdjustment(row.rep, row.period, row.amount, row.reason, row.approved_by, number))
    return out


def read_config_adjustments(config_dir: Path) -> list[ManualAdjustment]:
    """``<config>/commission_adjustments.csv``, errors naming it as ``config/...``."""
    return read_adjustments(Path(config_dir) / FILE_NAME, f"{Path(config_dir).name}/{FILE_NAME}")
