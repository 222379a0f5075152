"""Fxiaoke value conventions: epoch-millisecond times, UTC+8 dates, decimal strings.

Used by the connector, the dbt staging checks and the tests: anything reading raw Fxiaoke JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(ms: int | str) -> datetime:
    """Epoch ms -> aware UTC datetime, with integer arithmetic (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def datetime_to_ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}")
    return (ts - _EPOCH) // timedelta(milliseconds=1)


def fxiaoke_date(ms: int | str | None) -> date | None:
    """A Fxiaoke date field (ms at local midnight UTC+8) as the calendar date it means.

    Converting in UTC would shift every date one day back: 1585929600000 is 2020-04-03T16:00Z,
    but the CRM user picked 2020-04-04.
    """
    if ms is None or ms == "":
        return None
    return ms_to_datetime(ms).astimezone(SHANGHAI).date()


def fxiaoke_decimal(value: Any) -> Decimal | None:
    """Amounts and probabilities (strings such as ``"100000.00"``) as exact decimals, never floats."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that round-trips, not the binary expansion
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def ms_or_none(value: Any) -> datetime | None:
    """Epoch ms -> datetime, ``None`` when absent or unusable (optional metadata times)."""
    try:
        return ms_to_datetime(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
