"""``config/monthly_distribution.csv`` (optional): the share of each fiscal month in a year target.

Required when settings.yml says ``target_month_split: distribution``: 12 months, each once,
shares >= 0 (up to 4 decimals) totalling 100 at two decimals - a spreadsheet's 12 x 8.3333
(99.9996) is 100.00 and accepted; 99.99 is not. The months weigh by their share over the shares'
total (int_targets_monthly), so the months still add up exactly to the year target.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo, field_validator

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validated_rows

DISTRIBUTION_COLUMNS = ("fiscal_month", "share_pct")


class MonthlyShareRow(ConfigRow):
    fiscal_month: int
    share_pct: Decimal

    @field_validator("fiscal_month", mode="before")
    @classmethod
    def _month(cls, value: Any) -> int:
        raw_month = str(value or "").strip()
        if not raw_month.isdigit() or not 1 <= int(raw_month) <= 12:
            raise ValueError(f"{raw_month!r} must be a fiscal month number 1-12")
        return int(raw_month)

    @field_validator("share_pct", mode="before")
    @classmethod
    def _share(cls, value: Any, info: ValidationInfo) -> Decimal:
        # a month given twice is reported before its share (context: months_seen, month -> row)
        month, seen = info.data.get("fiscal_month"), info.context["months_seen"]
        if month in seen:
            raise ValueError(
                f"@fiscal_month: fiscal month {month} is given twice (first in row {seen[month]})"
            )
        return fields.decimal(value, places=4, minimum=Decimal(0))


def read_distribution(config_dir: Path, required: bool) -> list[tuple[int, Decimal, int]]:
    """(fiscal_month, share_pct, row) sorted by month; [] when the file is absent and not required."""
    path = config_dir / "monthly_distribution.csv"
    name = f"{config_dir.name}/monthly_distribution.csv"
    if not path.exists():
        if required:
            raise ConfigError(f"{name}: file not found (settings.yml target_month_split is 'distribution')")
        return []
    shares: list[tuple[int, Decimal, int]] = []
    seen: dict[int, int] = {}
    last_row = 1
    rows = csv_rows(path, name, DISTRIBUTION_COLUMNS)
    for number, row in validated_rows(rows, MonthlyShareRow, name, {"months_seen": seen}):
        last_row = number
        seen[row.fiscal_month] = number
        shares.append((row.fiscal_month, row.share_pct, number))
    missing = sorted(set(range(1, 13)) - set(seen))
    if missing:
        raise ConfigError(
            f"{where(name, last_row, 'fiscal_month')}: fiscal month(s) "
            f"{', '.join(map(str, missing))} missing (give all 12, 0 for a month without target)"
        )
    total = sum((share for _, share, _ in shares), Decimal(0))
    if total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) != 100:
        raise ConfigError(
            f"{where(name, last_row, 'share_pct')}: the shares total {total} %, "
            "they must total 100 % (at two decimals)"
        )
    return sorted(shares)
