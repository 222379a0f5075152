"""Zoho OAuth: the refresh-token grant, the access token's life and the redaction of credentials.

Tokens come from ``accounts_url``; every CRM call goes to the ``api_domain`` the token response
names. A token is refreshed shortly before ``expires_in`` and, on 401 ``INVALID_TOKEN`` /
``AUTHENTICATION_FAILURE``, exactly once before replaying the request (the connector's ``_get``).
A throttled refresh ("too many requests continuously") is waited out, not fatal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from flows.crm.base import CallStats, CrmError
from flows.crm.sessions import Response
from flows.crm.zoho.transport import describe_response

log = logging.getLogger(__name__)

AUTH_ERRORS = ("INVALID_TOKEN", "AUTHENTICATION_FAILURE")
#: Refresh this long before the token's stated expiry (clock skew, slow calls).
TOKEN_MARGIN_SECONDS = 60.0


def secret(value: SecretStr | str | None) -> SecretStr:
    """A required credential as a ``SecretStr`` (a missing one fails at construction)."""
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()) or value == "":
        raise ValueError("missing Zoho credential")
    return value if isinstance(value, SecretStr) else SecretStr(value)


@dataclass
class AccessToken:
    """The current access token; its repr never shows the value."""

    value: SecretStr
    api_domain: str
    expires_at: float  # monotonic seconds

    def __repr__(self) -> str:
        return f"AccessToken(api_domain={self.api_domain!r}, value=**********)"


class ZohoAuth:
    """The token half of :class:`flows.crm.zoho.connector.ZohoConnector` (a mixin)."""

    accounts_url: str
    refresh_throttle_wait: float
    refresh_throttle_max_wait: float
    _client_id: SecretStr
    _client_secret: SecretStr
    _refresh_token: SecretStr
    _token: AccessToken | None
    _token_lock: threading.Lock
    _sleep: Callable[[float], None]
    _monotonic: Callable[[], float]

    if TYPE_CHECKING:

        def _send(
            self, obj: str, endpoint: str, method: str, url: str, *, slot: bool = True, **kwargs: Any
        ) -> Response: ...

        def stats(self, obj: str) -> CallStats: ...

    def _access_token(self, obj: str) -> AccessToken:
        token = self._token
        if token is None or self._monotonic() >= token.expires_at - TOKEN_MARGIN_SECONDS:
            token = self._refresh(obj, stale=token)
        return token

    def _refresh(self, obj: str, *, stale: AccessToken | None) -> AccessToken:
        """Get a new access token, unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self._token is not None and self._token is not stale:
                return self._token
            endpoint = "POST /oauth/v2/token"
            waited = 0.0
            while True:
                # Credentials go in the form body, never the URL: URLs end up in access logs.
                resp = self._send(
                    obj,
                    endpoint,
                    "POST",
                    f"{self.accounts_url}/oauth/v2/token",
                    slot=False,
                    data={
                        "grant_type": "refresh_token",
                        "client_id": self._client_id.get_secret_value(),
                        "client_secret": self._client_secret.get_secret_value(),
                        "refresh_token": self._refresh_token.get_secret_value(),
                    },
                )
                try:
                    body = resp.json()
                except ValueError:
                    raise self._error(obj, endpoint, describe_response(resp)) from None
                if not isinstance(body, dict):
                    raise self._error(obj, endpoint, f"HTTP {resp.status_code} with an unexpected body")
                if body.get("access_token"):
                    break
                error = str(body.get("error") or f"HTTP {resp.status_code}")
                if error == "Access Denied" or "too many requests" in str(body.get("error_description", "")):
                    if waited >= self.refresh_throttle_max_wait:
                        raise self._error(obj, endpoint, f"token refresh still throttled after {waited:.0f}s")
                    log.warning(
                        "zoho %s: token refresh throttled by Zoho (10 per 10 min); waiting %.0fs",
                        obj,
                        self.refresh_throttle_wait,
                    )
                    self._sleep(self.refresh_throttle_wait)
                    waited += self.refresh_throttle_wait
                    continue
                raise self._error(
                    obj,
                    endpoint,
                    f"token refresh rejected ({error}); check the Zoho client id, "
                    "client secret and refresh token",
                )
            seconds = float(body.get("expires_in_sec") or body.get("expires_in") or 3600)
            if "expires_in_sec" not in body and seconds > 86400:
                seconds /= 1000  # legacy milliseconds
            api_domain = str(body.get("api_domain") or "").rstrip("/")
            if not api_domain:
                raise self._error(obj, endpoint, "token response without api_domain")
            self._token = AccessToken(
                SecretStr(body["access_token"]), api_domain, self._monotonic() + seconds
            )
            self.stats(obj).token_refreshes += 1
            return self._token

    # --- errors ------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        secrets = [self._client_id, self._client_secret, self._refresh_token]
        if self._token is not None:
            secrets.append(self._token.value)
        for secret in secrets:
            value = secret.get_secret_value()
            if value:
                text = text.replace(value, "**********")
        return text

    def _error(self, obj: str, endpoint: str, cause: str) -> CrmError:
        return CrmError(self._redact(f"zoho {obj}: {endpoint} failed: {cause}"))
