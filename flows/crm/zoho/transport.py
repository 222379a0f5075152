"""Zoho's HTTP semantics on top of the shared retry policy (:mod:`flows.crm.retry`).

Zoho reports failures with HTTP statuses: 429 (concurrency cap or spent daily credits, waited out
on its own time budget) and 5xx are retried; every other answer, 4xx included, is returned, since
only the connector knows whether a 401 means "refresh the token" or a 400 "bad request".
Descriptions of failures are safe for error messages: status, error code, body kind; never a URL
query, header or credential.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import requests

from flows.crm.retry import (
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    Retryable,
    RetryPolicy,
    call_with_retries,
    response_retry_after,
)
from flows.crm.sessions import ApiSession, Response


def describe_response(resp: Response) -> str:
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
    session: requests.Session | ApiSession,
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
) -> Response:
    """Send a request, retrying transient failures; return the first non-retryable response.

    ``on_attempt()`` runs before every attempt (count API calls there); ``on_retry(cause, n,
    delay)`` before every wait. Raises :class:`flows.crm.retry.RetriesExhausted` once the policy
    gives up. ``headers_fn()``, when given, supplies the headers for each attempt (a token may
    expire during a long wait).
    """

    def attempt() -> Response:
        if on_attempt:
            on_attempt()
        if headers_fn is not None:
            kwargs["headers"] = headers_fn()
        try:
            response = session.request(method, url, timeout=timeout, **kwargs)
        except TRANSIENT_ERRORS as exc:
            raise Retryable(describe_exception(exc)) from None
        if response.status_code not in RETRY_STATUSES:
            return response
        raise Retryable(
            describe_response(response),
            retry_after=response_retry_after(response),
            rate_limited=response.status_code == 429,
        )

    def retried(err: Retryable, n: int, delay: float) -> None:
        if on_retry:
            on_retry(err.cause, n, delay)

    return call_with_retries(attempt, policy=policy, sleep=sleep, rng=rng, on_retry=retried)
