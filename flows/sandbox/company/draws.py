"""Small random draws every part of the company generator uses, and the random stream itself."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal


class SeededRandom(random.Random):
    """``random.Random`` with the hot draws (``randrange``, ``choice``) inlined.

    Why: at a million deals the generator spends most of its time in the pure-Python layers of
    ``randrange``/``choice`` (argument checks, ``_randbelow``). These overrides draw *exactly* the
    same numbers as CPython's (``getrandbits(k)`` rejection sampling, ``k = n.bit_length()``), so
    a seed still gives the same company; anything unusual (steps, non-ints) goes to the original.
    """

    def randrange(self, start, stop=None, step=1):  # type: ignore[no-untyped-def, override]
        if step == 1 and type(start) is int and (stop is None or type(stop) is int):
            n, base = (start, 0) if stop is None else (stop - start, start)
            if n > 0:
                getrandbits, k = self.getrandbits, n.bit_length()
                r = getrandbits(k)
                while r >= n:
                    r = getrandbits(k)
                return base + r
        return super().randrange(start, stop, step)

    def choice(self, seq):  # type: ignore[no-untyped-def, override]
        n = len(seq)
        if not n:
            raise IndexError("Cannot choose from an empty sequence")
        getrandbits, k = self.getrandbits, n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]


def business_time(day: date, rng: random.Random) -> datetime:
    """A business-hours instant on ``day`` (UTC), so modified times spread over the day."""
    return datetime.combine(day, time(1, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 10 * 3600))


def money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(Decimal("0.01"))
