"""Pace API calls ahead of a CRM's documented rate limit, per endpoint (a token bucket).

Why: backing off only after the CRM throttles costs a fixed wait per throttle (Fxiaoke sends no
``Retry-After``, so the retry policy waits ``rate_limit_backoff`` seconds each time) and spends
attempts; a client that never exceeds the limit loses nothing. The bucket for a limit of ``calls``
per ``window`` seconds refills at ``headroom`` of the limit's rate and holds a burst small enough
that no sliding window of ``window`` seconds can hold more than ``calls - 1`` calls:
``burst + rate * window <= calls - 1``. Threads share the buckets (reading several endpoints at
once); a caller reserves its slot under the lock and sleeps outside it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Pacer:
    """``acquire(key)`` waits (through the injected ``sleep``) until a call on ``key`` keeps every
    window of ``window`` seconds under ``calls`` calls; returns the seconds waited."""

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        headroom: float = 0.9,
    ):
        if calls < 1 or window <= 0 or not 0 < headroom <= 1:
            raise ValueError(f"pacing needs calls >= 1, window > 0 and 0 < headroom <= 1 ({calls}/{window}s)")
        self.rate = calls * headroom / window
        self.burst = max(1, math.floor(calls - self.rate * window) - 1)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.waited = 0.0  #: seconds all callers spent waiting for a slot

    def acquire(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            bucket.tokens -= 1.0  # reserved: may go negative, the next caller queues behind it
            wait = 0.0 if bucket.tokens >= 0 else -bucket.tokens / self.rate
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait
