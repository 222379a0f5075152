"""Bounded retries with backoff for CRM HTTP calls, independent of any one CRM.

Why a helper of our own rather than urllib3's ``Retry``: the connectors need to see every
attempt (to count API calls and retries per object for ``ops.ingest_runs``), to sleep through an
injectable function (tests must not really wait), to honour ``Retry-After`` on 429 while still
backing off exponentially when it is absent, and to give up with a *description* of the cause
that is safe to put in an error message (status, error code, body kind; never a URL query,
header or credential). Both connectors can use it; it knows nothing about Zoho or Fxiaoke.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

log = logging.getLogger(__name__)

#: Exceptions that mean "the exchange failed on the wire": retry them.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``max_retries`` counts re-attempts after the first try."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    #: Retry-After is honoured up to this many seconds (a bogus huge value must not hang a run).
    retry_after_max: float = 600.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    #: When > 0, HTTP 429 (rate limit, spent daily credits, concurrency cap) has a budget of its
    #: own: retried for up to this many seconds of cumulative waiting, however many attempts that
    #: takes, honouring Retry-After up to the budget. 0 = 429 counts against ``max_retries``.
    rate_limit_max_wait: float = 0.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before re-attempt number ``attempt + 1`` (``attempt`` starts at 0).

        The server's Retry-After wins when given. Otherwise exponential backoff with "equal
        jitter": half the capped exponential step plus a random half, so parallel clients spread
        out but never retry immediately.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        step = min(self.backoff_max, self.backoff_base * (2**attempt))
        return step / 2 + (rng or random).uniform(0, step / 2)


class RetriesExhausted(Exception):
    """Every attempt failed transiently. ``cause`` describes the last failure, credential-free."""

    def __init__(self, cause: str, attempts: int, response: requests.Response | None = None):
        super().__init__(f"{cause} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.cause = cause
        self.attempts = attempts
        self.response = response


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


def describe_response(resp: requests.Response) -> str:
    """``HTTP 502 (HTML body)``, ``HTTP 500 INTERNAL_ERROR: Internal Server Error``, ... (≤200 chars)."""
    text = f"HTTP {resp.status_code}"
    body = resp.content or b""
    if not body.strip():
        return text + " (empty body)"
    ctype = resp.headers.get("Content-Type", "")
    if "html" in ctype or body.lstrip()[:1] == b"<":
        return text + " (HTML body)"
    try:
        payload = resp.json()
    except ValueError:
        return text + " (non-JSON body)"
    if isinstance(payload, dict):
        code = payload.get("code") or payload.get("error") or payload.get("errorCode")
        message = payload.get("message") or payload.get("error_description") or payload.get("errorMessage")
        if code or message:
            text += f" {code or ''}{': ' if code and message else ''}{message or ''}"
    return text[:200]


def describe_exception(exc: BaseException) -> str:
    """The exception's class and kind, without its text (requests puts full URLs in it)."""
    if isinstance(exc, requests.Timeout):
        return f"timeout ({type(exc).__name__})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection broken mid-response ({type(exc).__name__})"
    return f"connection error ({type(exc).__name__})"


def request_with_retries(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: RetryPolicy,
    timeout: float | tuple[float, float],
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_attempt: Callable[[], None] | None = None,
    on_retry: Callable[[str, int, float], None] | None = None,
    headers_fn: Callable[[], dict[str, str]] | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send a request, retrying transient failures; return the first non-retryable response.

    ``on_attempt()`` runs before every attempt (count API calls there); ``on_retry(cause, n,
    delay)`` before every wait. Raises :class:`RetriesExhausted` once ``policy.max_retries``
    re-attempts have failed. 4xx other than 429 are returned, not raised: the caller knows
    whether a 401 means "refresh the token" or a 400 means "bad request". ``headers_fn()``, when
    given, supplies the headers for each attempt (a token may expire during a long wait).
    """
    attempt = 0
    limited, limited_wait = 0, 0.0  # 429s seen and seconds waited on them (own budget)
    while True:
        if on_attempt:
            on_attempt()
        response: requests.Response | None = None
        retry_after: float | None = None
        if headers_fn is not None:
            kwargs["headers"] = headers_fn()
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except TRANSIENT_ERRORS as exc:
            cause = describe_exception(exc)
        else:
            if response.status_code not in policy.retry_statuses:
                return response
            cause = describe_response(response)
            if response.status_code in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if response.status_code == 429 and policy.rate_limit_max_wait > 0:
                delay = retry_after if retry_after is not None else policy.delay(limited, None, rng)
                if limited_wait + delay > policy.rate_limit_max_wait:
                    hint = f"; Retry-After {retry_after:.0f}s" if retry_after is not None else ""
                    raise RetriesExhausted(
                        f"{cause}: still rate-limited after waiting {limited_wait:.0f}s "
                        f"(budget {policy.rate_limit_max_wait:.0f}s{hint})",
                        attempt + limited + 1,
                        response,
                    )
                limited += 1
                if on_retry:
                    on_retry(cause, limited, delay)
                sleep(delay)
                limited_wait += delay
                continue
        if attempt >= policy.max_retries:
            raise RetriesExhausted(cause, attempt + 1, response)
        delay = policy.delay(attempt, retry_after, rng)
        if on_retry:
            on_retry(cause, attempt + 1, delay)
        sleep(delay)
        attempt += 1
