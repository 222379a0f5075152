"""Fxiaoke OpenAPI answer shapes and the gateway's bookkeeping: business errors (HTTP 200 with
``errorCode != 0``), issued tokens, and the mutable state one sandbox holds."""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flows.sandbox.fxiaoke.encoding.company import FxiaokeData
from flows.sandbox.fxiaoke.faults import FxiaokeFaults
from flows.sandbox.fxiaoke.store import ObjectOrders
from flows.sandbox.fxiaoke.wire import OBJECT_API_NAMES
from flows.sandbox.httpd import Reply, json_reply

CONTENT_TYPE = "application/json;charset=UTF-8"
REDIRECT_HTML = (
    "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>"
    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Token:
    value: str
    issued_at: datetime
    calls: int = 0
    revoked: bool = False
    kind: str = "legacy"  # legacy (corpAccessToken in the body) | oauth2 (Bearer header)


class ApiError(Exception):
    """A business error: always answered with HTTP 200 and ``errorCode != 0`` (crm_apis §2.7)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class State:
    data: FxiaokeData
    faults: FxiaokeFaults = field(default_factory=FxiaokeFaults)
    counts: dict[str, int] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    sim_seq: int = 0
    quota_day: date | None = None
    quota_used: int = 0
    #: calls answered 14001 (rate limited), by the window or ``rate_limited_calls``
    throttled: int = 0
    #: most API calls being served at once (a client reading endpoints concurrently shows > 1)
    max_in_flight: int = 0
    #: kept orders of the objects (the keyset page's); forget an object's after editing its rows
    orders: ObjectOrders = field(default_factory=ObjectOrders)


def error_body(code: int, message: str) -> dict:
    return {"errorCode": code, "errorMessage": message, "traceId": f"E-O.sandbox.{secrets.token_hex(8)}"}


def fx_json(status: int, payload: Any) -> Reply:
    return json_reply(status, payload, content_type=CONTENT_TYPE)


def api_name(obj: str) -> str:
    """``opportunities`` -> ``OpportunityObj``; an API name stays as it is."""
    return OBJECT_API_NAMES.get(obj, obj)


def touch(rec: dict, now_ms: int) -> None:
    rec["last_modified_time"] = now_ms
    rec["version"] = str(int(rec.get("version") or "0") + 1)
