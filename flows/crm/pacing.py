"""Pace API calls ahead of a CRM's documented rate limit, per endpoint (a sliding-window log).

Why: backing off only after the CRM throttles costs a fixed wait per throttle (Fxiaoke sends no
``Retry-After``, so the retry policy waits ``rate_limit_backoff`` seconds each time) and spends
attempts; a client that never exceeds the limit loses nothing. For a limit of ``calls`` per
``window`` seconds the pacer keeps, per endpoint, the times of the last calls and lets a call go
only when fewer than ``calls - headroom`` calls fall in the ``window`` seconds before it: the
first calls go at once (a small ingest never waits), a long one runs at the limit's average rate,
and no window, sliding or fixed, ever holds the limit. Threads share the logs (reading several
endpoints at once); a caller reserves its time under the lock and sleeps outside it. Why not a
token bucket: one that can never exceed a sliding limit must either refill below the limit's rate
or hold a burst of a few calls, and loses either way against this log (a page of a few dozen calls
would wait seconds for nothing).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class Pacer:
    """``acquire(key)`` waits (through the injected ``sleep``) until a call on ``key`` keeps every
    window of ``window`` seconds at most ``calls - headroom`` calls; returns the seconds waited."""

    def __init__(
        self,
        calls: int,
        window: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        headroom: int = 1,
    ):
        if calls - headroom < 1 or window <= 0 or headroom < 0:
            raise ValueError(f"pacing needs calls - headroom >= 1 and window > 0 ({calls}/{window}s)")
        self.limit = calls - headroom
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}
        self.waited = 0.0  #: seconds all callers spent waiting for a slot

    def acquire(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - self.window:
                log.popleft()
            at = max(now, log[-1]) if log else now  # reservations stay in time order
            if len(log) >= self.limit:
                at = max(at, log[-self.limit] + self.window)
            log.append(at)
            while len(log) > self.limit:  # only the last `limit` times decide the next call
                log.popleft()
            wait = at - now
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait
