"""Zoho CRM v8 API limits and answer shapes the sandbox reproduces: paging limits, token lifetime,
the JSON error envelope, and the bookkeeping records (access and page tokens) behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flows.sandbox.httpd import Reply, json_reply

API_PREFIX = "/crm/v8"
MAX_FIELDS = 50
MAX_PER_PAGE = 200
DISCRETE_LIMIT = 2000
TOKEN_LIMIT = 100_000
ACCESS_TOKEN_SECONDS = 3600
SORT_KEYS = ("id", "Created_Time", "Modified_Time")
USER_TYPES = ("AllUsers", "ActiveUsers", "DeactiveUsers", "ConfirmedUsers", "AdminUsers", "DeletedUsers")
CREDIT_WINDOW = timedelta(hours=24)
#: A stage some deals carry that no pipeline in ``/settings/pipeline`` lists (``pipeline_variety``).
CUSTOM_STAGE = "Contract Sent"
RENEWALS_PIPELINE = "Renewals"
RETENTION = {"recycle": timedelta(days=60), "permanent": timedelta(days=120)}
THROTTLED = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after some time.",
}
HTML_5XX = (
    "<html><head><title>{status} Bad Gateway</title></head><body><center><h1>{status}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


@dataclass
class AccessToken:
    issued_at: datetime
    calls: int = 0


@dataclass
class PageToken:
    signature: tuple
    offset: int
    expires: datetime


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, payload, headers=headers)


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Reply:
    """Zoho's error envelope: ``code``, ``details``, ``message``, ``status: "error"``."""
    return json_answer(
        status, {"code": code, "details": details or {}, "message": message, "status": "error"}
    )


def invalid_param(name: str, message: str = "invalid data", code: str = "INVALID_DATA") -> Reply:
    return error(400, code, message, {"param_name": name})


def missing_param(name: str) -> Reply:
    return error(
        400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param_name": name}
    )


class BadRequest(Exception):
    """Raised deep in an endpoint; the dispatcher answers with its reply."""

    def __init__(self, reply: Reply):
        self.reply = reply
