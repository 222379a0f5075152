"""Small random draws every part of the company generator uses."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal


def business_time(day: date, rng: random.Random) -> datetime:
    """A business-hours instant on ``day`` (UTC), so modified times spread over the day."""
    return datetime.combine(day, time(1, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 10 * 3600))


def money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))
