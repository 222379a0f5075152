"""Fxiaoke authentication: both token modes (``/cgi/corpAccessToken/get/V2`` with the token in the
body, ``/oauth2.0/token`` with ``authorization: Bearer`` + ``x-fs-ea`` + ``x-fs-userid``), the
6600 s reissue window, and the checks every business call passes first."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime

from flows.sandbox.fxiaoke.protocol import ApiError, State, Token, error_body
from flows.sandbox.fxiaoke.wire import TOKEN_REISSUE_SECONDS, TOKEN_TTL_SECONDS


class Auth:
    """Mixed into :class:`~flows.sandbox.fxiaoke.server.FxiaokeSandbox`: its credentials and tokens.

    Credentials are fixed and documented so the demo can configure a connector without secrets;
    they only ever unlock this local server.
    """

    APP_ID = "FSAID_SALESOPSDEMO"
    APP_SECRET = "salesops-demo-app-secret"
    PERMANENT_CODE = "salesops-demo-permanent-code"
    CORP_ID = "FSCID_9C2D7E41B0A34F6A8D15E3B7C6A90F12"
    #: the CRM admin whose openUserId is passed as currentOpenUserId: sees every record
    ADMIN_OPEN_USER_ID = "FSUID_5A1E5095D3B24C6F8E7A0D1C2B3A4F50"
    #: enterprise account (``ea``) of the tenant, returned by /oauth2.0/token and sent as ``x-fs-ea``
    EA = "salesopsdemo"

    _state: State
    _clock: Callable[[], datetime]
    _headers: Mapping[str, str]

    def _apply_expire_now(self) -> None:
        if self._state.faults.expire_token_now:
            self._state.faults.expire_token_now = False
            for tok in self._state.tokens:
                tok.revoked = True

    def _token(self, body: dict) -> dict:
        self._apply_expire_now()
        if body.get("appId") != self.APP_ID or body.get("appSecret") != self.APP_SECRET:
            raise ApiError(20006, "appId或appSecret错误")
        if body.get("permanentCode") != self.PERMANENT_CODE:
            raise ApiError(20015, "永久授权码错误")
        token, expires_in = self._issue("legacy")
        return {
            **error_body(0, "success"),
            "corpAccessToken": token.value,
            "corpId": self.CORP_ID,
            "expiresIn": expires_in,
        }

    def _issue(self, kind: str) -> tuple[Token, int]:
        """Reissue semantics shared by both modes: the same token for 6600 s, then a new one."""
        now = self._clock()
        current = next((t for t in reversed(self._state.tokens) if t.kind == kind), None)
        if (
            current
            and not current.revoked
            and (now - current.issued_at).total_seconds() < TOKEN_REISSUE_SECONDS
        ):
            return current, int(TOKEN_TTL_SECONDS - (now - current.issued_at).total_seconds())
        token = Token(secrets.token_hex(16).upper(), now, kind=kind)
        self._state.tokens.append(token)
        return token, TOKEN_TTL_SECONDS

    def _oauth_token(self, body: dict) -> dict:
        """``POST /oauth2.0/token`` (client credentials, ``grantType: app_secret``; crm_apis §2.2)."""
        self._apply_expire_now()
        if body.get("grantType") != "app_secret":
            raise ApiError(10001, "grantType不合法")
        if body.get("appId") != self.APP_ID or body.get("appSecret") != self.APP_SECRET:
            raise ApiError(20006, "appId或appSecret错误")
        if body.get("permanentCode") != self.PERMANENT_CODE:
            raise ApiError(20015, "永久授权码错误")
        token, expires_in = self._issue("oauth2")
        return {
            **error_body(0, "success"),
            "accessToken": token.value,
            "expiresIn": expires_in,
            "ea": self.EA,
            "openUserId": self.ADMIN_OPEN_USER_ID,
            "appId": self.APP_ID,
        }

    def _authenticate(self, body: dict) -> None:
        faults = self._state.faults
        self._apply_expire_now()
        headers = self._headers
        bearer = headers.get("authorization", "")
        now = self._clock()
        if bearer:
            value = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
            token = next((t for t in self._state.tokens if t.value == value and t.kind == "oauth2"), None)
            if headers.get("x-fs-ea") != self.EA or not headers.get("x-fs-userid"):
                raise ApiError(20016, "the cropId,cropAccessToken or authorization is error")
        else:
            value = body.get("corpAccessToken")
            if not value:
                raise ApiError(20017, "corpAccessToken为必填项，不能为空")
            token = next((t for t in self._state.tokens if t.value == value and t.kind == "legacy"), None)
            if body.get("corpId") != self.CORP_ID:
                token = None
        if token is None or token.revoked or (now - token.issued_at).total_seconds() >= TOKEN_TTL_SECONDS:
            raise ApiError(20016, "the cropId,cropAccessToken or authorization is error")
        token.calls += 1
        if faults.expire_token_after_calls is not None and token.calls > faults.expire_token_after_calls:
            token.revoked = True
            raise ApiError(20016, "the cropId,cropAccessToken or authorization is error")
