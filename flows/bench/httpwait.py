"""Time a measured process spends blocked on HTTP calls: the CRM's (the sandbox's) share of its wall.

Why: the ingestion row compares the pipeline with a naive loop reading the same sandbox, and the
sandbox's answer times (building an export, re-sorting a listing) are in both walls; issue 14 asks
for landing throughput "without the sandbox's share". Both sides use ``requests``, so one hook on
:meth:`requests.Session.send` measures them the same way: from sending the request to having the
whole body (``send`` reads it unless ``stream=True``, which neither side uses). Parsing the body
(JSON, CSV, zip) happens after ``send`` returns and stays the client's own time. Calls in flight
at once (reader threads) count once: the union of their intervals, not their sum.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests


@dataclass
class HttpWait:
    """Seconds with at least one HTTP call in flight, and how many calls were sent."""

    seconds: float = 0.0
    calls: int = 0
    clock: Callable[[], float] = time.perf_counter
    _in_flight: int = 0
    _since: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self._lock:
            self.calls += 1
            if self._in_flight == 0:
                self._since = self.clock()
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.seconds += self.clock() - self._since


@contextmanager
def http_wait() -> Iterator[HttpWait]:
    """Count every ``requests`` call made in this process while the block runs (a patch of
    ``Session.send``, undone on exit)."""
    wait = HttpWait()
    original = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
        wait.enter()
        try:
            return original(self, request, **kwargs)
        finally:
            wait.leave()

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield wait
    finally:
        requests.Session.send = original  # type: ignore[method-assign]
