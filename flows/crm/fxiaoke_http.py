"""HTTP transport for the Fxiaoke OpenAPI: one POST, classified and retried.

Why a module of its own: Fxiaoke reports business errors as **HTTP 200** with ``errorCode != 0``
(crm_apis §2.7), its gateway answers 502/504 with an HTML page, and it rate-limits per endpoint
(``14001``) without a ``Retry-After``. Getting that classification right once, in one place, is
what keeps the connector honest: a caller that only checks the status code would load error
bodies as data. Token handling (``20016``) is the connector's job, because it must rebuild the
request body with a new token; here 20016 is just a non-retryable :class:`FxiaokeCallError`.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests

from flows.crm.base import CallStats

log = logging.getLogger(__name__)

#: 30002 (daily quota) is deliberately absent: retrying cannot help before 00:00 Asia/Shanghai.
RATE_LIMIT_CODES = frozenset({14001, 30004})  # call limit exceeded / per-second frequency (unverified)
SERVICE_ERROR_CODES = frozenset({50009, -1, -2})  # service timeout, busy, system error
TOKEN_INVALID_CODE = 20016
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


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


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    Rate-limit answers start from a longer base: the documented window is 60 calls per 20 s per
    endpoint, so retrying after one second would just burn the remaining attempts.
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    rate_limit_backoff: float = 5.0

    def delay(self, retry: int, *, rate_limited: bool, rng: random.Random) -> float:
        base = self.rate_limit_backoff if rate_limited else self.backoff_base
        ceiling = min(self.backoff_max, base * 2 ** (retry - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)  # "equal jitter": never zero, spreads clients


class _Retryable(Exception):
    def __init__(
        self, reason: str, *, code: int | None = None, message: str | None = None, trace_id: str | None = None
    ):
        super().__init__(reason)
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
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy
        self.sleep = sleep
        self.redact = redact
        self.session = session or requests.Session()
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
        for attempt in range(1, attempts + 1):
            stats.api_calls += 1
            try:
                return self._once(path, body, headers)
            except _Retryable as err:
                if attempt == attempts:
                    raise FxiaokeCallError(
                        path,
                        self.redact(err.reason),
                        code=err.code,
                        message=err.message,
                        trace_id=err.trace_id,
                        attempts=attempt,
                    ) from None
                delay = self.policy.delay(attempt, rate_limited=err.code in RATE_LIMIT_CODES, rng=self.rng)
                log.warning(
                    "%s: POST %s attempt %d/%d failed: %s%s; retrying in %.1f s",
                    label,
                    path,
                    attempt,
                    attempts,
                    self.redact(err.reason),
                    f" (traceId {err.trace_id})" if err.trace_id else "",
                    delay,
                )
                stats.retries += 1
                self.sleep(delay)
        raise AssertionError("unreachable")

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
        except requests.Timeout:
            raise _Retryable(f"timed out after {self.timeout:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # ChunkedEncodingError: the connection broke while the body was being read.
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        if resp.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {resp.status_code} ({_content_kind(resp)})")
        if resp.status_code != 200:
            hint = (
                " (a redirect: is the base URL the API gateway, e.g. open.fxiaoke.com?)"
                if 300 <= resp.status_code < 400
                else ""
            )
            raise FxiaokeCallError(path, f"HTTP {resp.status_code} ({_content_kind(resp)}){hint}")
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
