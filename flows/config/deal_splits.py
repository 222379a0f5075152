"""``config/deal_splits.csv`` (optional): deals credited to several reps (revenue / overlay splits).

``share`` is a fraction (0.6 = 60 %), > 0 and <= 1, at most 6 decimal places. A deal's
``revenue`` rows total exactly 1; ``overlay`` rows are on top and may total more than 1. A
(source, deal_id, rep, split_type) appears once. Format: ``docs/commission_plans.md``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import field_validator

from flows.config import fields
from flows.config.errors import ConfigError, where
from flows.config.rows import ConfigRow, csv_rows, validated_rows

SPLIT_COLUMNS = ("source", "deal_id", "rep", "share", "split_type")
SPLIT_SOURCES = ("zoho", "fxiaoke")
SPLIT_TYPES = ("revenue", "overlay")

Split = tuple[str, str, str, Decimal, str, int]


class DealSplitRow(ConfigRow):
    source: str
    deal_id: str
    rep: str
    share: Decimal
    split_type: str

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> str:
        return fields.one_of(str(value or "").strip(), SPLIT_SOURCES, value)

    @field_validator("deal_id", mode="before")
    @classmethod
    def _deal_id(cls, value: Any) -> str:
        deal_id = str(value or "").strip()
        if not deal_id:
            raise ValueError("the CRM deal id is required")
        return deal_id

    @field_validator("rep", mode="before")
    @classmethod
    def _rep(cls, value: Any) -> str:
        rep = str(value or "").strip().lower()
        if not fields.EMAIL_RE.match(rep):
            raise ValueError(f"{value!r} is not a rep email address")
        return rep

    @field_validator("share", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Decimal:
        share = fields.decimal(value, places=6)
        if not 0 < share <= 1:
            raise ValueError(f"{share} must be > 0 and <= 1 (a fraction: 0.6 = 60 %)")
        return share

    @field_validator("split_type", mode="before")
    @classmethod
    def _split_type(cls, value: Any) -> str:
        return fields.one_of(str(value or "").strip(), SPLIT_TYPES, value)


def read_splits(config_dir: Path) -> list[Split]:
    """(source, deal_id, rep email, share, split_type, row) of ``deal_splits.csv`` (optional)."""
    path = config_dir / "deal_splits.csv"
    name = f"{config_dir.name}/deal_splits.csv"
    if not path.exists():
        return []
    splits: list[Split] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    revenue: dict[tuple[str, str], list[tuple[int, Decimal]]] = {}
    for number, row in validated_rows(csv_rows(path, name, SPLIT_COLUMNS), DealSplitRow, name):
        key = (row.source, row.deal_id, row.rep, row.split_type)
        if key in seen:
            raise ConfigError(
                f"{where(name, number, 'rep')}: {row.rep} has a second {row.split_type} split on "
                f"{row.source} deal {row.deal_id} (first in row {seen[key]})"
            )
        seen[key] = number
        if row.split_type == "revenue":
            revenue.setdefault((row.source, row.deal_id), []).append((number, row.share))
        splits.append((*key[:3], row.share, row.split_type, number))
    for (source, deal_id), rows in revenue.items():
        total = sum((share for _, share in rows), Decimal(0))
        if total != 1:
            raise ConfigError(
                f"{where(name, rows[-1][0], 'share')}: the revenue splits of {source} deal {deal_id} "
                f"(rows {', '.join(str(n) for n, _ in rows)}) total {total}; they must total exactly 1 "
                "(100 %)"
            )
    return splits
