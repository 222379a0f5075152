"""The one retry policy of the CRM connectors: bounded backoff with jitter, Retry-After honoured.

Each connector's transport decides *what* is retryable in its CRM's terms (Zoho: HTTP status;
Fxiaoke: HTTP-200 ``errorCode``) by raising :class:`Retryable` from one attempt; this module
decides *when and how often* to try again (:func:`call_with_retries`). Wire failures and the
retryable HTTP statuses are the same for both (:data:`TRANSIENT_ERRORS`, :data:`RETRY_STATUSES`).

Why not tenacity or urllib3's ``Retry``: the connectors must see every attempt (API calls and
retries per object go to ``ops.ingest_runs``), sleep through an injected function that advances
the tests' fake clock, draw jitter from an injected ``random.Random``, give rate limits a time
budget of their own next to the attempt budget, and give up with a credential-free description
of the cause. urllib3's ``Retry`` sleeps with ``time.sleep`` inside the adapter and hides the
attempts; tenacity could host the loop but the two budgets and the descriptions would be most of
the code anyway (docs/connectors.md).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests

T = TypeVar("T")

#: Exceptions that mean "the exchange failed on the wire": retry them.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
#: HTTP statuses that are worth another attempt (rate limit, server and gateway errors).
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``max_retries`` counts re-attempts after the first try."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    #: Retry-After is honoured up to this many seconds (a bogus huge value must not hang a run).
    retry_after_max: float = 600.0
    #: Backoff base for rate-limited answers without a Retry-After (``None``: ``backoff_base``).
    #: Fxiaoke's window is 60 calls per 20 s per endpoint: retrying after a second would just
    #: burn the remaining attempts.
    rate_limit_backoff: float | None = None
    #: When > 0, rate-limited answers (Zoho's 429: spent daily credits, concurrency cap) have a
    #: budget of their own: retried for up to this many seconds of cumulative waiting, however
    #: many attempts that takes, honouring Retry-After up to the budget. 0 = they count against
    #: ``max_retries``.
    rate_limit_max_wait: float = 0.0

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rng: random.Random | None = None,
        *,
        rate_limited: bool = False,
    ) -> float:
        """Seconds to wait before re-attempt number ``attempt + 1`` (``attempt`` starts at 0).

        The server's Retry-After wins when given. Otherwise exponential backoff with "equal
        jitter": half the capped exponential step plus a random half, so parallel clients spread
        out but never retry immediately.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        base = self.backoff_base
        if rate_limited and self.rate_limit_backoff is not None:
            base = self.rate_limit_backoff
        step = min(self.backoff_max, base * (2**attempt))
        return step / 2 + (rng or random).uniform(0, step / 2)


class Retryable(Exception):
    """Raised by one attempt whose failure is worth another: ``cause`` is credential-free."""

    def __init__(self, cause: str, *, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class RetriesExhausted(Exception):
    """Every attempt failed transiently. ``cause`` describes the last failure, credential-free;
    ``last`` is the last attempt's :class:`Retryable` (for the transport's own details)."""

    def __init__(self, cause: str, attempts: int, last: Retryable):
        super().__init__(f"{cause} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.cause = cause
        self.attempts = attempts
        self.last = last


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP-date. ``None`` when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def response_retry_after(resp: requests.Response) -> float | None:
    """The Retry-After of a 429 or 503 answer (the statuses that define it), else ``None``."""
    if resp.status_code in (429, 503):
        return parse_retry_after(resp.headers.get("Retry-After"))
    return None


def call_with_retries(
    attempt_fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rng: random.Random | None = None,
    on_retry: Callable[[Retryable, int, float], None] | None = None,
) -> T:
    """Call ``attempt_fn()`` until it returns, retrying while it raises :class:`Retryable`.

    ``on_retry(err, n, delay)`` runs before the n-th wait (count and log retries there). Raises
    :class:`RetriesExhausted` once ``policy.max_retries`` re-attempts have failed, or when a
    rate-limited failure would overrun ``policy.rate_limit_max_wait``.
    """
    attempt = 0
    limited, limited_wait = 0, 0.0  # rate-limited failures seen and seconds waited on them
    while True:
        try:
            return attempt_fn()
        except Retryable as err:
            if err.rate_limited and policy.rate_limit_max_wait > 0:
                delay = err.retry_after
                if delay is None:
                    delay = policy.delay(limited, None, rng, rate_limited=True)
                if limited_wait + delay > policy.rate_limit_max_wait:
                    raise _over_budget(err, policy, limited_wait, attempt + limited + 1) from None
                limited += 1
                n = limited
                limited_wait += delay
            else:
                if attempt >= policy.max_retries:
                    raise RetriesExhausted(err.cause, attempt + 1, err) from None
                delay = policy.delay(attempt, err.retry_after, rng, rate_limited=err.rate_limited)
                attempt += 1
                n = attempt
            if on_retry:
                on_retry(err, n, delay)
            sleep(delay)


def _over_budget(err: Retryable, policy: RetryPolicy, waited: float, attempts: int) -> RetriesExhausted:
    hint = f"; Retry-After {err.retry_after:.0f}s" if err.retry_after is not None else ""
    return RetriesExhausted(
        f"{err.cause}: still rate-limited after waiting {waited:.0f}s "
        f"(budget {policy.rate_limit_max_wait:.0f}s{hint})",
        attempts,
        err,
    )
