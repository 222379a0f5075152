"""Fxiaoke authentication (legacy ``corpAccessToken`` or ``oauth2``), token life and redaction.

The token is reused until 6600 s after issue (the server hands out the same token until then)
and refreshed once, with a replay, on ``20016``. ``30002`` (daily quota) fails the object at once
with the reset time (00:00 Asia/Shanghai), never retried.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from flows.crm.base import CallStats, CrmError
from flows.crm.fxiaoke.transport import TOKEN_INVALID_CODE, FxiaokeCallError, FxiaokeTransport
from flows.crm.fxiaoke.values import SHANGHAI

log = logging.getLogger(__name__)

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
OAUTH_TOKEN_PATH = "/oauth2.0/token"
DAILY_QUOTA_CODE = 30002  # daily OpenAPI quota used up; resets at 00:00 Asia/Shanghai
NO_QUOTA_CODE = 30003  # no OpenAPI quota purchased
AUTH_MODES = ("legacy", "oauth2")
TOKEN_REFRESH_AFTER = timedelta(seconds=6600)  # same token reissued until then; expires at 7200 s


class FxiaokeAuth:
    """The auth half of :class:`flows.crm.fxiaoke.connector.FxiaokeConnector` (a mixin)."""

    auth_mode: str
    open_user_id: str
    _app_id: str
    _app_secret: str
    _permanent_code: str
    _token: str | None
    _corp_id: str | None
    _token_refresh_at: datetime | None
    _seen_tokens: set[str]
    _fetched_once: bool
    _clock: Callable[[], datetime]
    _http: FxiaokeTransport
    _token_lock: threading.Lock

    if TYPE_CHECKING:

        def stats(self, obj: str) -> CallStats: ...

    def _call(self, obj: str, path: str, build: Callable[[dict], dict]) -> dict:
        """One business call; on 20016 refresh the token once and replay. Failures become CrmError."""
        stats = self.stats(obj)
        label = f"fxiaoke {obj}"
        try:
            try:
                body, headers = self._auth(obj)
                return self._http.post(path, build(body), stats, label=label, headers=headers)
            except FxiaokeCallError as err:
                if err.code != TOKEN_INVALID_CODE:
                    raise
                log.info(
                    "fxiaoke %s: token rejected (errorCode %s); refreshing once and replaying", obj, err.code
                )
                self._token = None
                body, headers = self._auth(obj)
                return self._http.post(path, build(body), stats, label=label, headers=headers)
        except FxiaokeCallError as err:
            if err.code == DAILY_QUOTA_CODE:
                raise CrmError(f"fxiaoke {obj}: {self._quota_message(err)}") from None
            raise CrmError(f"fxiaoke {obj}: {err.describe()}") from None

    def _quota_message(self, err: FxiaokeCallError) -> str:
        now = self._clock().astimezone(SHANGHAI)
        reset = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
        wait = reset - now
        return (
            f"the tenant's daily OpenAPI quota is used up (errorCode {DAILY_QUOTA_CODE}, {err.endpoint}); "
            f"it resets at 00:00 Asia/Shanghai ({reset.astimezone(UTC):%Y-%m-%d %H:%M} UTC, in "
            f"{wait.total_seconds() / 3600:.1f} h). Pages landed so far are committed; rerun after the "
            "reset, or buy more OpenAPI calls" + (f" (traceId {err.trace_id})" if err.trace_id else "")
        )

    def _auth(self, obj: str) -> tuple[dict, dict[str, str]]:
        """Body fields and headers that authenticate one call, in the configured mode (one token
        fetch at a time when several objects are read at once)."""
        with self._token_lock:
            now = self._clock()
            if self._token is None or self._token_refresh_at is None or now >= self._token_refresh_at:
                self._fetch_token(obj, now)
        if self.auth_mode == "oauth2":
            headers = {
                "authorization": f"Bearer {self._token}",
                "x-fs-ea": str(self._corp_id),
                "x-fs-userid": self.open_user_id,
            }
            return {}, headers
        return {"corpAccessToken": self._token, "corpId": self._corp_id}, {}

    def _fetch_token(self, obj: str, now: datetime) -> None:
        stats = self.stats(obj)
        body = {"appId": self._app_id, "appSecret": self._app_secret, "permanentCode": self._permanent_code}
        if self.auth_mode == "oauth2":
            path, token_key, corp_key = OAUTH_TOKEN_PATH, "accessToken", "ea"
            body["grantType"] = "app_secret"
        else:
            path, token_key, corp_key = TOKEN_PATH, "corpAccessToken", "corpId"
        payload = self._http.post(path, body, stats, label=f"fxiaoke {obj}")
        stats.extra["token_calls"] = stats.extra.get("token_calls", 0) + 1  # unavoidable: in the minimum
        token, corp_id = payload.get(token_key), payload.get(corp_key)
        if not token or not corp_id:
            raise FxiaokeCallError(
                path, f"token answer without {token_key}/{corp_key}", trace_id=payload.get("traceId")
            )
        if isinstance(token, str):
            self._seen_tokens.add(token)  # redact it from here on, whatever happens next
        expires_in = payload.get("expiresIn")
        lifetime = timedelta(seconds=expires_in) if isinstance(expires_in, int) and expires_in > 0 else None
        # Refresh at 6600 s after issue; a reused token comes back with less than 7200 s to live.
        margin = timedelta(seconds=7200) - TOKEN_REFRESH_AFTER
        refresh_in = (lifetime - margin) if lifetime else TOKEN_REFRESH_AFTER
        if self._fetched_once:
            stats.token_refreshes += 1  # the first fetch of a run is not a refresh
        self._fetched_once = True
        self._token, self._corp_id = token, corp_id
        self._token_refresh_at = now + max(refresh_in, timedelta(0))

    def _redact(self, text: str) -> str:
        for secret in (self._app_secret, self._permanent_code, self._app_id, *self._seen_tokens):
            if secret:
                text = text.replace(secret, "***")
        return text
