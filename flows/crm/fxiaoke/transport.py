"""HTTP transport for the Fxiaoke OpenAPI: one POST, classified, retried by the shared policy.

Why a module of its own: Fxiaoke reports business errors as **HTTP 200** with ``errorCode != 0``
(crm_apis §2.7), its gateway answers 502/504 with an HTML page, and it rate-limits per endpoint
(``14001``) without a ``Retry-After``. Getting that classification right once, in one place, is
what keeps the connector honest: a caller that only checks the status code would load error
bodies as data. *When* to retry is :mod:`flows.crm.retry`'s job. Token handling (``20016``) is
the connector's, because it must rebuild the request body with a new token; here 20016 is just a
non-retryable :class:`FxiaokeCallError`.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter

from flows.crm.base import CallStats
from flows.crm.pacing import Pacer
from flows.crm.retry import (
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    RetriesExhausted,
    Retryable,
    RetryPolicy,
    call_with_retries,
    response_retry_after,
)
from flows.crm.sessions import api_session

log = logging.getLogger(__name__)

#: 30002 (daily quota) is deliberately absent: retrying cannot help before 00:00 Asia/Shanghai.
RATE_LIMIT_CODES = frozenset({14001, 30004})  # call limit exceeded / per-second frequency (unverified)
SERVICE_ERROR_CODES = frozenset({50009, -1, -2})  # service timeout, busy, system error
TOKEN_INVALID_CODE = 20016


class FxiaokeCallError(Exception):
    """One call failed for good. ``str()`` is safe to log: no body, token or secret."""

    def __init__(
        self,
        endpoint: str,
        reason: str,
        *,
        code: int | None = None,
        message: str | None = None,
        trace_id: str | None = None,
        attempts: int = 1,
    ):
        self.endpoint = endpoint
        self.reason = reason
        self.code = code
        self.message = message
        self.trace_id = trace_id
        self.attempts = attempts
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"POST {self.endpoint} failed"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        text += f": {self.reason}"
        if self.trace_id:
            text += f" (traceId {self.trace_id})"
        return text


class _Retryable(Retryable):
    """A retryable failure with Fxiaoke's details (errorCode, message, traceId)."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        message: str | None = None,
        trace_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(reason, retry_after=retry_after, rate_limited=code in RATE_LIMIT_CODES)
        self.reason, self.code, self.message, self.trace_id = reason, code, message, trace_id


class FxiaokeTransport:
    """POSTs JSON to ``base_url + path?thirdTraceId=<uuid4>`` and returns a body with ``errorCode == 0``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        redact: Callable[[str], str],
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
        pool_size: int = 1,
    ):
        self.base_url = base_url.rstrip("/")
        self.pacer = pacer
        self.timeout = timeout
        self.policy = policy
        self.sleep = sleep
        self.redact = redact
        self.session = session or api_session()
        if pool_size > 1:  # one kept connection per reader thread
            adapter = HTTPAdapter(pool_maxsize=pool_size, max_retries=0)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self.rng = rng or random.Random()

    def post(
        self, path: str, body: dict, stats: CallStats, *, label: str, headers: dict[str, str] | None = None
    ) -> dict:
        """One logical call: retried on rate limits, service errors, 5xx, HTML and transport errors
        (including a connection reset half-way through the answer).

        ``label`` names the caller in log lines (e.g. ``"fxiaoke opportunities"``); ``headers``
        are extra request headers (the oauth2 mode's ``authorization``/``x-fs-*``).
        """
        attempts = self.policy.max_retries + 1

        def attempt() -> dict:
            if self.pacer is not None:
                waited = self.pacer.acquire(path)
                if waited:
                    stats.extra["paced_ms"] = stats.extra.get("paced_ms", 0) + round(waited * 1000)
            stats.api_calls += 1
            return self._once(path, body, headers)

        def on_retry(err: Retryable, n: int, delay: float) -> None:
            trace_id = getattr(err, "trace_id", None)
            log.warning(
                "%s: POST %s attempt %d/%d failed: %s%s; retrying in %.1f s",
                label,
                path,
                n,
                attempts,
                self.redact(err.cause),
                f" (traceId {trace_id})" if trace_id else "",
                delay,
            )
            stats.retries += 1

        try:
            return call_with_retries(
                attempt, policy=self.policy, sleep=self.sleep, rng=self.rng, on_retry=on_retry
            )
        except RetriesExhausted as exc:
            err = exc.last
            assert isinstance(err, _Retryable)
            raise FxiaokeCallError(
                path,
                self.redact(err.reason),
                code=err.code,
                message=err.message,
                trace_id=err.trace_id,
                attempts=exc.attempts,
            ) from None

    def _once(self, path: str, body: dict, headers: dict[str, str] | None = None) -> dict:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.post(
                url,
                params={"thirdTraceId": str(uuid.uuid4())},
                json=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except TRANSIENT_ERRORS as exc:
            if isinstance(exc, requests.Timeout):
                raise _Retryable(f"timed out after {self.timeout:g} s") from None
            # ChunkedEncodingError: the connection broke while the body was being read.
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        if resp.status_code in RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {resp.status_code} ({_content_kind(resp)})", retry_after=response_retry_after(resp)
            )
        if resp.status_code != 200:
            hint = (
                " (a redirect: is the base URL the API gateway, e.g. open.fxiaoke.com?)"
                if 300 <= resp.status_code < 400
                else ""
            )
            raise FxiaokeCallError(path, f"HTTP {resp.status_code} ({_content_kind(resp)}){hint}")
        return self._payload(path, resp)

    def _payload(self, path: str, resp: requests.Response) -> dict:
        """An HTTP 200 answer's body when ``errorCode == 0``; a retryable or final error otherwise."""
        try:
            payload = resp.json()
        except ValueError:
            raise _Retryable(f"HTTP 200 with a non-JSON body ({_content_kind(resp)})") from None
        if not isinstance(payload, dict) or "errorCode" not in payload:
            raise FxiaokeCallError(path, "HTTP 200 without an errorCode: not a Fxiaoke answer")
        code, message, trace_id = (
            payload.get("errorCode"),
            payload.get("errorMessage"),
            payload.get("traceId"),
        )
        if code == 0:
            return payload
        reason = f"errorCode {code} {self.redact(str(message or ''))}".rstrip()
        if code in RATE_LIMIT_CODES or code in SERVICE_ERROR_CODES:
            raise _Retryable(reason, code=code, message=message, trace_id=trace_id)
        raise FxiaokeCallError(
            path, reason, code=code, message=self.redact(str(message or "")), trace_id=trace_id
        )


def _content_kind(resp: requests.Response) -> str:
    kind = (resp.headers.get("Content-Type") or "no content type").split(";")[0].strip()
    return kind if resp.content else f"{kind}, empty body"
