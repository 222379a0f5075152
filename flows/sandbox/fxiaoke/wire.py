"""Fxiaoke OpenAPI wire conventions: gateway paths, object API names, epoch-ms datetimes (date
fields at local midnight UTC+8), 24-hex ``_id`` values, ``FSUID_`` open user ids, amounts as
strings. See docs/sandbox.md ("Fxiaoke")."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

CHINA_TZ = timezone(timedelta(hours=8))  # Fxiaoke tenants in mainland China: no DST, fixed UTC+8
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROOT_DEPARTMENT_ID = 999999  # the company root every top department hangs under
SYSTEM_USER = "-10000"  # Fxiaoke's "系统" user id
TOKEN_TTL_SECONDS = 7200
TOKEN_REISSUE_SECONDS = 6600  # within this age the token endpoint returns the same token
MAX_LIMIT = 100

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
USER_LIST_PATH = "/cgi/user/list"
DEPARTMENT_LIST_PATH = "/cgi/department/list"
QUERY_PATH = "/cgi/crm/v2/data/query"
CUSTOM_QUERY_PATH = "/cgi/crm/custom/v2/data/query"  # custom objects (``object_xxx__c``) only
CRM_LOG_PATH = "/cgi/crm/crmLog/query"
OAUTH_TOKEN_PATH = "/oauth2.0/token"

#: the key under which the CRM log (stage changes) is stored next to the objects
CRM_LOG = "CrmLog"
#: a custom object the sandbox serves (only on CUSTOM_QUERY_PATH): customer visits
VISIT_OBJECT = "object_visit__c"

OBJECT_API_NAMES = {
    "opportunities": "OpportunityObj",
    "accounts": "AccountObj",
    "contacts": "ContactObj",
    "leads": "LeadsObj",
    "personnel": "PersonnelObj",
    "sales_orders": "SalesOrderObj",
    "invoices": "InvoiceApplicationObj",
    "payments": "PaymentObj",
    "opportunity_stage_changes": CRM_LOG,
    "visits": VISIT_OBJECT,
}
#: company status -> (Fxiaoke option code, label)


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of an aware datetime (Fxiaoke's datetime encoding)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}")
    return (ts - EPOCH) // timedelta(milliseconds=1)  # integer arithmetic: no float rounding


def ms_to_dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))


def date_ms(day: date) -> int:
    """A date field as Fxiaoke stores it: local midnight in UTC+8, in ms (2020-04-04 -> 1585929600000)."""
    return to_ms(datetime.combine(day, time(0), tzinfo=CHINA_TZ))


def digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def object_id(kind: str, key: int, created: datetime) -> str:
    """A deterministic 24-hex ``_id`` shaped like a Mongo ObjectId (4-byte creation time + 8 bytes)."""
    return f"{int(created.timestamp()) & 0xFFFFFFFF:08x}" + digest("fxiaoke", kind, key)[:16]


def open_user_id(user_key: int) -> str:
    """``FSUID_`` + 32 upper-case hex, stable per user."""
    return "FSUID_" + digest("fxiaoke-user", user_key)[:32].upper()


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))
