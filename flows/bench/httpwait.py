"""Time a measured process spends blocked on HTTP calls: the CRM's (the sandbox's) share of its wall.

Why: the ingestion row compares the pipeline with a naive loop reading the same sandbox, and the
sandbox's answer times (building an export, re-sorting a listing) are in both walls; issue 14 asks
for landing throughput "without the sandbox's share". The naive loop calls through ``requests``,
the connectors through :class:`flows.crm.sessions.ApiSession` (plain GETs on a urllib3 pool,
the rest through ``requests``), so the hook wraps :meth:`requests.Session.send` and the lean
path's ``ApiSession._send``: each from sending the request to having the whole body (``send``
reads it unless ``stream=True``, which neither side uses). Parsing the body (JSON, CSV, zip)
happens after they return and stays the client's own time. Calls in flight at once (reader
threads) count once: the union of their intervals, not their sum.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from flows.crm.sessions import ApiSession


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
    """Count every HTTP call made in this process while the block runs (patches of
    ``requests.Session.send`` and ``ApiSession._send``, undone on exit)."""
    wait = HttpWait()
    originals = {requests.Session: requests.Session.send, ApiSession: ApiSession._send}

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def send(self: Any, *args: Any, **kwargs: Any) -> Any:
            wait.enter()
            try:
                return original(self, *args, **kwargs)
            finally:
                wait.leave()

        return send

    requests.Session.send = timed(originals[requests.Session])  # type: ignore[method-assign]
    ApiSession._send = timed(originals[ApiSession])  # type: ignore[method-assign]
    try:
        yield wait
    finally:
        requests.Session.send = originals[requests.Session]  # type: ignore[method-assign]
        ApiSession._send = originals[ApiSession]  # type: ignore[method-assign]
