"""A local Fxiaoke (纷享销客) OpenAPI server that serves a :class:`Company` over real HTTP.

Why a real server: the connector is tested the way it runs in production, through ``requests``,
JSON bodies and the gateway's quirks. The behaviours reproduced are the ones a naive client gets
wrong (crm_apis §4.2): business errors come back as **HTTP 200** with ``errorCode != 0``; the
token is reissued unchanged for 6600 s and dies with ``20016``; ``limit`` is capped at 100 and
``offset`` must be a multiple of it; ``total`` is omitted on request; rows move between offset
pages when they are modified during paging; invalidated rows stay visible with
``life_status: "invalid"`` while permanently deleted rows simply vanish.

Record shapes follow docs/architecture.md ("Fxiaoke"): epoch-ms datetimes, date fields at local
midnight UTC+8, amounts and probabilities as strings, ``owner`` as an array with ``owner__r``.

Served objects: employees and departments; on ``/cgi/crm/v2/data/query`` AccountObj (with
``field_credit_limit__c`` and ``field_satisfaction__c``), ContactObj (``date_of_birth``), LeadsObj
(``leads_status`` code + ``__r`` label, converted ``opportunity_id``), OpportunityObj,
SalesOrderObj (a cancelled order stays ``life_status: normal`` with ``order_status: cancelled``
/ 已作废 and ``field_cancelled_time__c``: the order existed), InvoiceApplicationObj
(``field_due_date__c``), PaymentObj (``field_invoice_id__c``) and PersonnelObj; opportunity stage
changes on ``/cgi/crm/crmLog/query`` (the request/answer shape is the sandbox's reading of an
undocumented API: ``data.apiName``, optional ``data.fieldApiName``, the data/query
``search_query_info``; entries carry ``objectId``, ``oldValue``/``newValue`` stage codes with
``__r`` labels, ``operateTime`` ms and ``operator``); and the custom object ``object_visit__c``
only on ``/cgi/crm/custom/v2/data/query``.

Both auth modes: ``/cgi/corpAccessToken/get/V2`` (token in the body) and ``/oauth2.0/token``
(client credentials; ``authorization: Bearer`` + ``x-fs-ea`` + ``x-fs-userid`` headers). Further
switches: ``wrong_host`` (the 302 HTML page ``www.fxiaoke.com`` gives; a ``Host: www.…`` header
triggers it too), ``daily_quota`` (30002 until 00:00 Asia/Shanghai on the sandbox clock) and
``reset_calls`` (half the body, then a TCP reset).

Every fault is a field of :class:`FxiaokeFaults`, flipped per test through ``sandbox.faults`` or
over HTTP (``POST /__admin/faults``). The clock is injectable, so token expiry and rate-limit
windows can be driven without waiting.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import random
import secrets
import socket
import struct
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flows.sandbox.company import Company, User

CHINA_TZ = timezone(timedelta(hours=8))  # Fxiaoke tenants in mainland China: no DST, fixed UTC+8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
_LEAD_STATUS = {
    "Not Contacted": ("un_processed", "未处理"),
    "Contacted": ("processed", "跟进中"),
    "Qualified": ("qualified", "已确认"),
    "Lost Lead": ("closed", "无效"),
    "Converted": ("transformed", "已转换"),
}
_ORDER_STATUS = {
    "Approved": ("approved", "已确认"),
    "Delivered": ("delivered", "已发货"),
    "Cancelled": ("cancelled", "已作废"),
}
_INVOICE_STATUS = {
    "Unpaid": ("unpaid", "未回款"),
    "Partially Paid": ("partial", "部分回款"),
    "Paid": ("paid", "已回款"),
    "Cancelled": ("cancelled", "已作废"),
}
_POSITIONS = {"director": "区域总监", "manager": "销售经理", "rep": "销售代表"}
_INDUSTRY_CN = {
    "Manufacturing": "制造业",
    "Retail": "零售",
    "Technology": "信息技术",
    "Finance": "金融",
    "Healthcare": "医疗健康",
    "Logistics": "物流",
    "Energy": "能源",
}
_LEAD_SOURCE_CN = {
    "Cold Call": "电话营销",
    "Advertisement": "广告",
    "Partner": "合作伙伴",
    "Web Download": "官网下载",
    "Trade Show": "展会",
    "Employee Referral": "员工推荐",
}
_REDIRECT_HTML = (
    "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n<center><h1>302 Found</h1></center>"
    "\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


# --- encoding helpers ----------------------------------------------------------------------------------


def to_ms(ts: datetime) -> int:
    """Epoch milliseconds of an aware datetime (Fxiaoke's datetime encoding)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}")
    return (ts - _EPOCH) // timedelta(milliseconds=1)  # integer arithmetic: no float rounding


def date_ms(day: date) -> int:
    """A date field as Fxiaoke stores it: local midnight in UTC+8, in ms (2020-04-04 -> 1585929600000)."""
    return to_ms(datetime.combine(day, time(0), tzinfo=CHINA_TZ))


def _digest(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def object_id(kind: str, key: int, created: datetime) -> str:
    """A deterministic 24-hex ``_id`` shaped like a Mongo ObjectId (4-byte creation time + 8 bytes)."""
    return f"{int(created.timestamp()) & 0xFFFFFFFF:08x}" + _digest("fxiaoke", kind, key)[:16]


def open_user_id(user_key: int) -> str:
    """``FSUID_`` + 32 upper-case hex, stable per user."""
    return "FSUID_" + _digest("fxiaoke-user", user_key)[:32].upper()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.01")))


# --- the data the server holds ---------------------------------------------------------------------------


@dataclass
class FxiaokeData:
    """The company encoded in Fxiaoke's wire format: employees, departments and CRM objects by ``_id``."""

    employees: list[dict]
    departments: list[dict]
    objects: dict[str, dict[str, dict]]  # api name -> _id -> record


def encode_company(company: Company) -> FxiaokeData:
    """Encode the Fxiaoke part of ``company`` (users whose crm is ``fxiaoke``, their accounts and deals)."""
    company = company.for_crm("fxiaoke")
    users = {u.key: u for u in company.users}
    departments, dept_of_region, dept_of_team = _encode_departments(company)
    employees = [_encode_employee(u, users, dept_of_region, dept_of_team) for u in company.users]
    accounts = {a.key: a for a in company.accounts}
    account_ids = {a.key: object_id("AccountObj", a.key, a.created_at) for a in company.accounts}
    stage_codes = {name: (str(i + 1), prob) for i, (name, prob, _) in enumerate(company.pipelines["fxiaoke"])}
    products = {p.key: p for p in company.products}

    def owner_fields(owner_key: int) -> dict:
        owner = users[owner_key]
        ref = {"id": str(1000 + owner.key), "name": owner.full_name}
        return {
            "owner": [open_user_id(owner.key)],
            "owner__r": ref,
            "owner__l": [ref],
            "owner_department": dept_name_of(owner),
            "data_own_department": [str(dept_id_of(owner))],
        }

    def dept_id_of(user: User) -> int:
        return dept_of_team[user.team] if user.team else dept_of_region[user.region]

    def dept_name_of(user: User) -> str:
        return user.team or user.region

    def common(
        kind: str, key: int, created: datetime, modified: datetime, owner_key: int, version: int
    ) -> dict:
        return {
            "_id": object_id(kind, key, created),
            **owner_fields(owner_key),
            "created_by": [SYSTEM_USER],
            "created_by__r": {"id": SYSTEM_USER, "name": "系统"},
            "last_modified_by": [open_user_id(owner_key)],
            "create_time": to_ms(created),
            "last_modified_time": to_ms(modified),
            "life_status": "normal",
            "lock_status": "0",
            "is_deleted": False,
            "record_type": "default__c",
            "version": str(version),
        }

    opportunities: dict[str, dict] = {}
    for deal in company.deals:
        account = accounts.get(deal.account_key) if deal.account_key else None
        code, _ = stage_codes[deal.stage]
        product = products.get(deal.product_key) if deal.product_key else None
        rec = common(
            "OpportunityObj",
            deal.key,
            deal.created_at,
            deal.modified_at,
            deal.owner_key,
            max(1, len(deal.history)),
        )
        rec.update(
            {
                "name": deal.name,
                "amount": _money(deal.amount),
                "mc_currency": deal.currency,
                "mc_exchange_rate": "7.20",
                "close_date": date_ms(deal.closing_date) if deal.closing_date else None,
                "sales_stage": code,
                "sales_stage__r": deal.stage,
                "probability": str(deal.probability),
                "account_id": account_ids[account.key] if account else None,
                "account_id__r": account.name if account else None,
                "field_product__c": product.name if product else None,
                "field_lead_source__c": _LEAD_SOURCE_CN.get(deal.lead_source or "", deal.lead_source),
                "biz_status": {"open": "running", "won": "win", "lost": "lose"}[deal.stage_category],
            }
        )
        opportunities[rec["_id"]] = rec

    account_recs: dict[str, dict] = {}
    for acc in company.accounts:
        rec = common("AccountObj", acc.key, acc.created_at, acc.modified_at, acc.owner_key, 1)
        rec.update(
            {
                "name": acc.name,
                "industry": _INDUSTRY_CN.get(acc.industry or "", acc.industry),
                "field_annual_revenue__c": _money(acc.annual_revenue),
                "field_employee_count__c": str(acc.employees) if acc.employees is not None else None,
                "field_credit_limit__c": _money(acc.credit_limit),
                "field_satisfaction__c": str(acc.satisfaction) if acc.satisfaction is not None else None,
                "country": "中国",
            }
        )
        account_recs[rec["_id"]] = rec

    contacts: dict[str, dict] = {}
    for con in company.contacts:
        acc = accounts.get(con.account_key)
        rec = common("ContactObj", con.key, con.created_at, con.modified_at, con.owner_key, 1)
        rec.update(
            {
                "name": con.last_name + con.first_name,
                "email": con.email,
                "account_id": account_ids[acc.key] if acc else None,
                "account_id__r": acc.name if acc else None,
                "date_of_birth": date_ms(con.birthday) if con.birthday else None,
            }
        )
        contacts[rec["_id"]] = rec

    deal_ids = {d.key: object_id("OpportunityObj", d.key, d.created_at) for d in company.deals}
    deals_by_key = {d.key: d for d in company.deals}

    def account_ref(account_key: int | None) -> dict:
        acc = accounts.get(account_key) if account_key else None
        return {
            "account_id": account_ids[acc.key] if acc else None,
            "account_id__r": acc.name if acc else None,
        }

    leads: dict[str, dict] = {}
    for lead in company.leads:
        rec = common("LeadsObj", lead.key, lead.created_at, lead.modified_at, lead.owner_key, 1)
        code, label = _LEAD_STATUS.get(lead.status, ("un_processed", "未处理"))
        converted = deals_by_key.get(lead.converted_deal_key) if lead.converted_deal_key else None
        rec.update(
            {
                "name": lead.last_name + lead.first_name,
                "company_name": lead.company_name,
                "email": lead.email,
                "leads_status": code,
                "leads_status__r": label,
                "source": _LEAD_SOURCE_CN.get(lead.lead_source, lead.lead_source),
                "opportunity_id": deal_ids[converted.key] if converted else None,
                "opportunity_id__r": converted.name if converted else None,
            }
        )
        leads[rec["_id"]] = rec

    order_ids: dict[int, str] = {}
    orders: dict[str, dict] = {}
    for order in company.sales_orders:
        rec = common("SalesOrderObj", order.key, order.created_at, order.modified_at, order.owner_key, 1)
        order_ids[order.key] = rec["_id"]
        code, label = _ORDER_STATUS.get(order.status, ("approved", "已确认"))
        deal = deals_by_key.get(order.deal_key)
        rec.update(
            {
                "name": f"{order.order_date:%Y%m%d}-{order.key:06d}",
                "order_amount": _money(order.amount),
                "order_time": date_ms(order.order_date),
                **account_ref(order.account_key),
                "opportunity_id": deal_ids.get(order.deal_key),
                "opportunity_id__r": deal.name if deal else None,
                "mc_currency": order.currency,
                # A cancelled order stays a live record (life_status normal): it existed, and the
                # clawback needs it. Only 作废 through /data/invalid would make it "invalid".
                "order_status": code,
                "order_status__r": label,
                "field_cancelled_time__c": to_ms(order.cancelled_at) if order.cancelled_at else None,
            }
        )
        if order.cancelled_at:
            rec["version"] = "2"
        orders[rec["_id"]] = rec

    invoice_ids: dict[int, str] = {}
    invoice_order: dict[int, int] = {}
    invoices: dict[str, dict] = {}
    for inv in company.invoices:
        rec = common("InvoiceApplicationObj", inv.key, inv.created_at, inv.modified_at, inv.owner_key, 1)
        invoice_ids[inv.key], invoice_order[inv.key] = rec["_id"], inv.order_key
        code, label = _INVOICE_STATUS.get(inv.status, ("unpaid", "未回款"))
        rec.update(
            {
                "name": f"FP{inv.invoice_date:%Y%m%d}{inv.key:05d}",
                "invoice_amount": _money(inv.amount),
                "invoice_date": date_ms(inv.invoice_date),
                "field_due_date__c": date_ms(inv.due_date),
                "order_id": order_ids.get(inv.order_key),
                **account_ref(inv.account_key),
                "mc_currency": inv.currency,
                "field_invoice_status__c": code,
                "field_invoice_status__c__r": label,
            }
        )
        invoices[rec["_id"]] = rec

    payments: dict[str, dict] = {}
    for pay in company.payments:
        rec = common("PaymentObj", pay.key, pay.created_at, pay.modified_at, pay.owner_key, 1)
        order_key = invoice_order.get(pay.invoice_key)
        rec.update(
            {
                "name": f"{pay.paid_on:%Y%m%d}-{pay.key:06d}",
                "payment_amount": _money(pay.amount),
                "payment_time": date_ms(pay.paid_on),
                **account_ref(pay.account_key),
                "order_id": order_ids.get(order_key) if order_key else None,
                "field_invoice_id__c": invoice_ids.get(pay.invoice_key),
                "mc_currency": pay.currency,
            }
        )
        payments[rec["_id"]] = rec

    personnel: dict[str, dict] = {}
    for user, emp in zip(company.users, employees, strict=True):
        hired = datetime.combine(user.hired_on, time(9), tzinfo=CHINA_TZ)
        rec = common("PersonnelObj", user.key, hired, ms_to_dt(emp["updateTime"]), user.key, 1)
        rec.update(
            {
                "_id": str(1000 + user.key),  # PersonnelObj ids are the numeric employee ids
                "name": user.full_name,
                "user_id": str(1000 + user.key),
                "field_open_user_id__c": emp["openUserId"],
                "email": user.email,
                "phone": emp["mobile"],
                "status": "1" if user.active else "2",  # 1 启用 / 2 停用
                "status__r": "启用" if user.active else "停用",
                "main_department_id": [str(emp["mainDepartmentId"])],
                "leader": [str(1000 + user.manager_key)] if user.manager_key in users else [],
                "position": emp["position"],
            }
        )
        personnel[rec["_id"]] = rec

    stage_log: dict[str, dict] = {}
    for deal in company.deals:
        previous: str | None = None
        previous_at = -1
        for i, change in enumerate(deal.history):
            code, _ = stage_codes[change.stage]
            # The generator clamps late changes to one instant; a real log is strictly ordered.
            at = max(to_ms(change.changed_at), previous_at + 1000)
            previous_at = at
            entry = {
                "_id": object_id(CRM_LOG, deal.key * 1000 + i, change.changed_at),
                "apiName": "OpportunityObj",
                "objectId": deal_ids[deal.key],
                "objectName": deal.name,
                "operationType": "新建" if previous is None else "修改",
                "fieldApiName": "sales_stage",
                "fieldLabel": "销售阶段",
                "oldValue": stage_codes[previous][0] if previous else None,
                "oldValue__r": previous,
                "newValue": code,
                "newValue__r": change.stage,
                "operateTime": at,
                "operator": [open_user_id(deal.owner_key)],
                "operator__r": {"id": str(1000 + deal.owner_key), "name": users[deal.owner_key].full_name},
            }
            stage_log[entry["_id"]] = entry
            previous = change.stage

    visits: dict[str, dict] = {}
    for con in company.contacts:
        at = con.modified_at + timedelta(days=3)
        rec = common(VISIT_OBJECT, con.key, at, at, con.owner_key, 1)
        rec.update(
            {
                "name": f"拜访-{con.last_name}{con.first_name}",
                "field_contact_id__c": object_id("ContactObj", con.key, con.created_at),
                "field_visit_date__c": date_ms(at.astimezone(CHINA_TZ).date()),
                "field_summary__c": "产品演示与需求沟通",
            }
        )
        visits[rec["_id"]] = rec

    return FxiaokeData(
        employees,
        departments,
        {
            "OpportunityObj": opportunities,
            "AccountObj": account_recs,
            "ContactObj": contacts,
            "LeadsObj": leads,
            "PersonnelObj": personnel,
            "SalesOrderObj": orders,
            "InvoiceApplicationObj": invoices,
            "PaymentObj": payments,
            CRM_LOG: stage_log,
            VISIT_OBJECT: visits,
        },
    )


def ms_to_dt(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


def _encode_departments(company: Company) -> tuple[list[dict], dict[str, int], dict[str, int]]:
    """One top department per region under the root, one department per team under its region."""
    departments: list[dict] = []
    dept_of_region: dict[str, int] = {}
    dept_of_team: dict[str, int] = {}
    updated = to_ms(datetime.combine(company.as_of - timedelta(days=600), time(9), tzinfo=CHINA_TZ))
    for i, region in enumerate(company.regions):
        region_id = 1000 + 100 * (i + 1)
        dept_of_region[region.name] = region_id
        departments.append(
            {
                "departmentId": region_id,
                "name": region.name,
                "parentId": ROOT_DEPARTMENT_ID,
                "order": i + 1,
                "isStop": False,
                "updateTime": updated,
            }
        )
        teams = sorted({u.team for u in company.users if u.region == region.name and u.team})
        for j, team in enumerate(teams):
            dept_of_team[team] = region_id + j + 1
            departments.append(
                {
                    "departmentId": region_id + j + 1,
                    "name": team,
                    "parentId": region_id,
                    "order": j + 1,
                    "isStop": False,
                    "updateTime": updated,
                }
            )
    return departments, dept_of_region, dept_of_team


def _encode_employee(
    user: User, users: dict[int, User], dept_of_region: dict[str, int], dept_of_team: dict[str, int]
) -> dict:
    dept = dept_of_team[user.team] if user.team else dept_of_region[user.region]
    stop_ms = to_ms(datetime.combine(user.left_on, time(18), tzinfo=CHINA_TZ)) if user.left_on else None
    hired_ms = to_ms(datetime.combine(user.hired_on, time(9), tzinfo=CHINA_TZ))
    return {
        "openUserId": open_user_id(user.key),
        "account": f"1{user.key:03d}",
        "name": user.full_name,
        "nickName": user.full_name,
        "email": user.email,
        "mobile": f"138{int(_digest('mobile', user.key)[:8], 16) % 10**8:08d}",
        "gender": "U",
        "isStop": not user.active,
        "mainDepartmentId": dept,
        "departmentIds": [dept],
        "leaderId": open_user_id(user.manager_key) if user.manager_key in users else None,
        "position": _POSITIONS[user.role],
        "hireDate": user.hired_on.isoformat(),
        "stopTime": stop_ms,
        "updateTime": stop_ms or hired_ms,
    }


# --- faults ------------------------------------------------------------------------------------------------


@dataclass
class FxiaokeFaults:
    """Switches a test flips at runtime. Counters named ``*_calls`` apply to the next K ``/cgi/`` calls."""

    #: revoke every issued token at the next request (then resets itself)
    expire_token_now: bool = False
    #: a token dies after this many business calls made with it (then 20016); None = never
    expire_token_after_calls: int | None = None
    #: per-endpoint limit (crm_apis §2.7: 60 calls / 20 s); None disables it
    rate_limit_per_window: int | None = 60
    rate_limit_window_seconds: float = 20.0
    #: answer the next K calls with errorCode 14001 regardless of the window
    rate_limited_calls: int = 0
    #: answer the next K calls with a gateway HTML page and this HTTP status (502 or 504)
    gateway_error_calls: int = 0
    gateway_error_status: int = 502
    #: answer the next K calls with HTTP 200 and this errorCode (50009, -1, -2)
    service_error_calls: int = 0
    service_error_code: int = 50009
    #: delay the next K calls by ``slow_seconds`` (real time: meant to trip client timeouts)
    slow_calls: int = 0
    slow_seconds: float = 0.0
    #: reject a call without ``?thirdTraceId=`` (the real gateway's behaviour is unverified)
    require_trace_id: bool = True
    reject_reused_trace_id: bool = False
    #: whether data/query returns invalidated (作废) rows, with life_status "invalid"
    return_invalid: bool = True
    #: reject offsets above this (an unverified documented ceiling); None = no ceiling
    max_offset: int | None = None
    #: after the next data/query page is served, modify its first K rows (now), shifting later pages
    modify_during_paging: int = 0
    #: serve this many more data/query pages before ``modify_during_paging`` strikes
    modify_after_pages: int = 0
    #: answer every API call with the 302 HTML page a wrong host (``www.`` instead of ``open.``) gives
    wrong_host: bool = False
    #: business calls allowed per day (00:00-24:00 Asia/Shanghai on the sandbox clock), then 30002
    daily_quota: int | None = None
    #: reset the connection half-way through the body of the next K answers
    reset_calls: int = 0


@dataclass
class _Token:
    value: str
    issued_at: datetime
    calls: int = 0
    revoked: bool = False
    kind: str = "legacy"  # legacy (corpAccessToken in the body) | oauth2 (Bearer header)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # send half the body, then reset the connection


class _ApiError(Exception):
    """A business error: always answered with HTTP 200 and ``errorCode != 0`` (crm_apis §2.7)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- the API logic, independent of HTTP ---------------------------------------------------------------------


@dataclass
class _State:
    data: FxiaokeData
    faults: FxiaokeFaults = field(default_factory=FxiaokeFaults)
    counts: dict[str, int] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)
    tokens: list[_Token] = field(default_factory=list)
    windows: dict[str, deque[float]] = field(default_factory=dict)
    sim_seq: int = 0
    quota_day: date | None = None
    quota_used: int = 0


class FxiaokeSandbox:
    """The Fxiaoke OpenAPI on ``base_url``, backed by a :class:`Company`.

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

    def __init__(
        self,
        company: Company,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
    ):
        self._company = company.for_crm("fxiaoke")
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._state = _State(data=encode_company(self._company))
        self._headers: Mapping[str, str] = {}  # headers of the call being dispatched (under the lock)
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        handler = type("FxiaokeHandler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fxiaoke-sandbox",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FxiaokeSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test surface ----------------------------------------------------------------------------------

    @property
    def faults(self) -> FxiaokeFaults:
        return self._state.faults

    @faults.setter
    def faults(self, value: FxiaokeFaults) -> None:
        self._state.faults = value

    def request_counts(self) -> dict[str, int]:
        """Requests received per path (every answer counts, errors included)."""
        with self._lock:
            return dict(self._state.counts)

    def trace_ids(self) -> list[str]:
        """Every ``thirdTraceId`` received, in order (``""`` for a call without one)."""
        with self._lock:
            return list(self._state.trace_ids)

    def records(self, obj: str) -> list[dict]:
        """Deep copies of the stored records of ``obj`` (``opportunities`` or ``OpportunityObj``)."""
        with self._lock:
            return copy.deepcopy(list(self._state.data.objects[_api_name(obj)].values()))

    def employees(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._state.data.employees)

    def departments(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._state.data.departments)

    def now(self) -> datetime:
        return self._clock()

    def reset(self) -> None:
        """Fresh data from the company, default faults, no tokens or counters."""
        with self._lock:
            self._state = _State(data=encode_company(self._company))

    def simulate(
        self,
        obj: str,
        *,
        create: int = 0,
        update: int = 0,
        invalidate: int = 0,
        delete: int = 0,
        advance_stage: bool = False,
    ) -> dict:
        """CRM activity stamped "now": new rows, edits, invalidations (作废) and permanent deletes.

        Deterministic: the rows touched depend only on the data and how many simulations ran.
        Returns the ``_id`` lists per action and the timestamp used. With ``advance_stage``
        (opportunities), each updated open opportunity also moves to the next open stage and the
        change is written to the CRM log (``/cgi/crm/crmLog/query``); ``"stage_changes"`` lists
        the new log entry ids.
        """
        if _api_name(obj) == CRM_LOG:
            raise ValueError("the CRM log is written by opportunity updates (advance_stage), not simulated")
        with self._lock:
            store = self._state.data.objects[_api_name(obj)]
            now_ms = to_ms(self._clock())
            self._state.sim_seq += 1
            rng = random.Random(f"{_api_name(obj)}:{self._state.sim_seq}")
            live = sorted(i for i, r in store.items() if r["life_status"] == "normal")
            if update + invalidate + delete > len(live):
                raise ValueError(f"only {len(live)} live {obj} rows to change")
            picked = rng.sample(live, update + invalidate + delete)
            to_update, to_invalidate = picked[:update], picked[update : update + invalidate]
            to_delete = picked[update + invalidate :]
            stage_changes: list[str] = []
            for rid in to_update:
                _touch(store[rid], now_ms)
                if store[rid].get("amount") is not None:
                    store[rid]["amount"] = str(Decimal(store[rid]["amount"]) + Decimal("1000.00"))
                if advance_stage and _api_name(obj) == "OpportunityObj":
                    entry = self._advance_stage(store[rid], now_ms)
                    if entry:
                        stage_changes.append(entry)
            for rid in to_invalidate:
                _touch(store[rid], now_ms)
                store[rid]["life_status"] = "invalid"
            for rid in to_delete:
                del store[rid]
            created = []
            for n in range(create):
                template = store[rng.choice(live)] if live else None
                if template is None:
                    raise ValueError(f"no {obj} row to copy")
                rec = copy.deepcopy(template)
                rec["_id"] = (
                    f"{now_ms // 1000 & 0xFFFFFFFF:08x}" + _digest("sim", obj, self._state.sim_seq, n)[:16]
                )
                rec["name"] = f"{template.get('name') or ''}（新{self._state.sim_seq}-{n + 1}）"
                rec.update(create_time=now_ms, last_modified_time=now_ms, version="1", life_status="normal")
                store[rec["_id"]] = rec
                created.append(rec["_id"])
            return {
                "object": _api_name(obj),
                "at": now_ms,
                "created": created,
                "updated": to_update,
                "invalidated": to_invalidate,
                "deleted": to_delete,
                "stage_changes": stage_changes,
            }

    def _advance_stage(self, rec: dict, now_ms: int) -> str | None:
        """Move an open opportunity to the next open stage and log it; None if it is closed."""
        pipeline = self._company.pipelines["fxiaoke"]
        codes = {str(i + 1): (name, prob, cat) for i, (name, prob, cat) in enumerate(pipeline)}
        current = codes.get(str(rec.get("sales_stage")))
        nxt = codes.get(str(int(rec["sales_stage"]) + 1)) if current else None
        if not current or current[2] != "open" or not nxt or nxt[2] != "open":
            return None
        old_code, new_code = str(rec["sales_stage"]), str(int(rec["sales_stage"]) + 1)
        rec.update(sales_stage=new_code, sales_stage__r=nxt[0], probability=str(nxt[1]))
        log = self._state.data.objects[CRM_LOG]
        entry_id = f"{now_ms // 1000 & 0xFFFFFFFF:08x}" + _digest("stage", rec["_id"], now_ms, len(log))[:16]
        log[entry_id] = {
            "_id": entry_id,
            "apiName": "OpportunityObj",
            "objectId": rec["_id"],
            "objectName": rec.get("name"),
            "operationType": "修改",
            "fieldApiName": "sales_stage",
            "fieldLabel": "销售阶段",
            "oldValue": old_code,
            "oldValue__r": current[0],
            "newValue": new_code,
            "newValue__r": nxt[0],
            "operateTime": now_ms,
            "operator": list(rec.get("owner") or [SYSTEM_USER]),
            "operator__r": rec.get("owner__r"),
        }
        return entry_id

    # --- request handling (called by the HTTP handler thread) ---------------------------------------------

    def _handle(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> _Response:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") or "/"
        if path.startswith("/__admin/"):
            return self._admin(method, path, body)
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        delay = 0.0
        with self._lock:
            st = self._state
            st.counts[path] = st.counts.get(path, 0) + 1
            if st.faults.slow_calls > 0:
                st.faults.slow_calls -= 1
                delay = st.faults.slow_seconds
        if delay:
            _time.sleep(delay)
        with self._lock:
            reset = False
            if self._state.faults.reset_calls > 0:
                self._state.faults.reset_calls -= 1
                reset = True
            try:
                resp = self._dispatch(method, path, parse_qs(parts.query), body, headers)
            except _ApiError as err:
                resp = _json(200, _error(err.code, err.message))
            resp.reset = reset
            return resp

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> _Response:
        st, faults = self._state, self._state.faults
        headers = headers or {}
        trace_id = (query.get("thirdTraceId") or [""])[0]
        reused = bool(trace_id) and trace_id in st.trace_ids
        st.trace_ids.append(trace_id)
        if faults.wrong_host or headers.get("host", "").startswith("www."):
            # crm_apis §2.1: www.fxiaoke.com/cgi/... is the website, not the API gateway.
            location = f"https://www.fxiaoke.com/XV/Home/Index?from={path}"
            return _Response(302, _REDIRECT_HTML.encode(), "text/html", {"Location": location})
        if faults.gateway_error_calls > 0:
            faults.gateway_error_calls -= 1
            code = faults.gateway_error_status
            reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}.get(
                code, "Error"
            )
            html = _GATEWAY_HTML.format(code=code, reason=reason).encode()
            return _Response(code, html, "text/html")
        handlers: dict[str, Callable[[dict], dict]] = {
            TOKEN_PATH: self._token,
            OAUTH_TOKEN_PATH: self._oauth_token,
            USER_LIST_PATH: self._user_list,
            DEPARTMENT_LIST_PATH: self._department_list,
            QUERY_PATH: self._query,
            CUSTOM_QUERY_PATH: self._custom_query,
            CRM_LOG_PATH: self._crm_log,
        }
        if path not in handlers:
            return _Response(404, b'{"status":404,"error":"Not Found"}')
        if method != "POST":
            return _Response(405, b'{"status":405,"error":"Method Not Allowed"}')
        if faults.require_trace_id and not trace_id:
            raise _ApiError(10001, "thirdTraceId为必填项，不能为空")
        if faults.reject_reused_trace_id and reused:
            raise _ApiError(10001, "thirdTraceId重复")
        self._rate_limit(path)
        self._daily_quota()
        if faults.service_error_calls > 0:
            faults.service_error_calls -= 1
            code = faults.service_error_code
            raise _ApiError(code, {50009: "服务超时", -1: "系统繁忙", -2: "系统错误"}.get(code, "系统错误"))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(10001, "请求参数不是合法的JSON") from None
        if not isinstance(payload, dict):
            raise _ApiError(10001, "请求参数不是合法的JSON")
        self._headers = headers
        try:
            return _json(200, handlers[path](payload))
        finally:
            self._headers = {}

    def _daily_quota(self) -> None:
        """crm_apis §2.7 (unverified): 30002 once the day's calls are used up; resets 00:00 UTC+8."""
        st = self._state
        today = self._clock().astimezone(CHINA_TZ).date()
        if st.quota_day != today:
            st.quota_day, st.quota_used = today, 0
        if st.faults.daily_quota is None:
            return
        if st.quota_used >= st.faults.daily_quota:
            raise _ApiError(30002, "今日接口调用次数已超过限制")
        st.quota_used += 1

    def _rate_limit(self, path: str) -> None:
        faults = self._state.faults
        if faults.rate_limited_calls > 0:
            faults.rate_limited_calls -= 1
            raise _ApiError(14001, "接口调用超过限制")
        if faults.rate_limit_per_window is None:
            return
        now = self._clock().timestamp()
        window = self._state.windows.setdefault(path, deque())
        while window and window[0] <= now - faults.rate_limit_window_seconds:
            window.popleft()
        if len(window) >= faults.rate_limit_per_window:
            raise _ApiError(14001, "接口调用超过限制")
        window.append(now)

    # --- endpoints -------------------------------------------------------------------------------------

    def _apply_expire_now(self) -> None:
        if self._state.faults.expire_token_now:
            self._state.faults.expire_token_now = False
            for tok in self._state.tokens:
                tok.revoked = True

    def _token(self, body: dict) -> dict:
        self._apply_expire_now()
        if body.get("appId") != self.APP_ID or body.get("appSecret") != self.APP_SECRET:
            raise _ApiError(20006, "appId或appSecret错误")
        if body.get("permanentCode") != self.PERMANENT_CODE:
            raise _ApiError(20015, "永久授权码错误")
        token, expires_in = self._issue("legacy")
        return {
            **_error(0, "success"),
            "corpAccessToken": token.value,
            "corpId": self.CORP_ID,
            "expiresIn": expires_in,
        }

    def _issue(self, kind: str) -> tuple[_Token, int]:
        """Reissue semantics shared by both modes: the same token for 6600 s, then a new one."""
        now = self._clock()
        current = next((t for t in reversed(self._state.tokens) if t.kind == kind), None)
        if (
            current
            and not current.revoked
            and (now - current.issued_at).total_seconds() < TOKEN_REISSUE_SECONDS
        ):
            return current, int(TOKEN_TTL_SECONDS - (now - current.issued_at).total_seconds())
        token = _Token(secrets.token_hex(16).upper(), now, kind=kind)
        self._state.tokens.append(token)
        return token, TOKEN_TTL_SECONDS

    def _oauth_token(self, body: dict) -> dict:
        """``POST /oauth2.0/token`` (client credentials, ``grantType: app_secret``; crm_apis §2.2)."""
        self._apply_expire_now()
        if body.get("grantType") != "app_secret":
            raise _ApiError(10001, "grantType不合法")
        if body.get("appId") != self.APP_ID or body.get("appSecret") != self.APP_SECRET:
            raise _ApiError(20006, "appId或appSecret错误")
        if body.get("permanentCode") != self.PERMANENT_CODE:
            raise _ApiError(20015, "永久授权码错误")
        token, expires_in = self._issue("oauth2")
        return {
            **_error(0, "success"),
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
                raise _ApiError(20016, "the cropId,cropAccessToken or authorization is error")
        else:
            value = body.get("corpAccessToken")
            if not value:
                raise _ApiError(20017, "corpAccessToken为必填项，不能为空")
            token = next((t for t in self._state.tokens if t.value == value and t.kind == "legacy"), None)
            if body.get("corpId") != self.CORP_ID:
                token = None
        if token is None or token.revoked or (now - token.issued_at).total_seconds() >= TOKEN_TTL_SECONDS:
            raise _ApiError(20016, "the cropId,cropAccessToken or authorization is error")
        token.calls += 1
        if faults.expire_token_after_calls is not None and token.calls > faults.expire_token_after_calls:
            token.revoked = True
            raise _ApiError(20016, "the cropId,cropAccessToken or authorization is error")

    def _user_list(self, body: dict) -> dict:
        self._authenticate(body)
        dept = body.get("departmentId")
        if not isinstance(dept, int):
            raise _ApiError(10001, "departmentId为必填项，不能为空")
        wanted = self._department_tree(dept) if body.get("fetchChild") else {dept}
        emps = [e for e in self._state.data.employees if wanted & set(e["departmentIds"])]
        return {**_error(0, "success"), "empList": copy.deepcopy(emps)}

    def _department_tree(self, root: int) -> set[int]:
        found = {root}
        changed = True
        while changed:
            more = {d["departmentId"] for d in self._state.data.departments if d["parentId"] in found}
            changed = not more <= found
            found |= more
        return found

    def _department_list(self, body: dict) -> dict:
        self._authenticate(body)
        return {**_error(0, "success"), "departments": copy.deepcopy(self._state.data.departments)}

    def _caller(self, body: dict) -> tuple[str, dict]:
        """Authenticate; the calling user (``x-fs-userid`` or ``currentOpenUserId``) and ``data``."""
        self._authenticate(body)
        headers = self._headers
        user = headers.get("x-fs-userid") if headers.get("authorization") else body.get("currentOpenUserId")
        if not user:
            raise _ApiError(10001, "currentOpenUserId为必填项，不能为空")
        known = {e["openUserId"] for e in self._state.data.employees}
        if user != self.ADMIN_OPEN_USER_ID and user not in known:
            raise _ApiError(20019, "currentOpenUserId不存在")
        data = body.get("data")
        if not isinstance(data, dict):
            raise _ApiError(10001, "data为必填项，不能为空")
        return user, data

    def _query(self, body: dict) -> dict:
        user, data = self._caller(body)
        api_name = data.get("dataObjectApiName")
        if api_name not in self._state.data.objects or api_name == CRM_LOG:
            raise _ApiError(10001, f"对象{api_name}不存在或未启用")
        if api_name.endswith("__c"):  # crm_apis §2.3: custom objects have their own endpoint
            raise _ApiError(10001, f"自定义对象{api_name}请使用/cgi/crm/custom/v2/data/query")
        return self._serve_rows(user, data, api_name)

    def _custom_query(self, body: dict) -> dict:
        user, data = self._caller(body)
        api_name = data.get("dataObjectApiName")
        if not isinstance(api_name, str) or not api_name.endswith("__c"):
            raise _ApiError(10001, f"对象{api_name}不是自定义对象，请使用/cgi/crm/v2/data/query")
        if api_name not in self._state.data.objects:
            raise _ApiError(10001, f"对象{api_name}不存在或未启用")
        return self._serve_rows(user, data, api_name)

    def _crm_log(self, body: dict) -> dict:
        """``POST /cgi/crm/crmLog/query``: field-change log entries (here: OpportunityObj stages).

        The request and answer shapes are the sandbox's reading of an undocumented API (crm_apis
        §2.6): ``data.apiName`` (object), optional ``data.fieldApiName``, and the same
        ``search_query_info`` as data/query (filters/orders on ``operateTime``, offset/limit).
        """
        user, data = self._caller(body)
        api_name = data.get("apiName")
        if not api_name:
            raise _ApiError(10001, "apiName为必填项，不能为空")
        field_name = data.get("fieldApiName")
        rows = [
            r
            for r in self._state.data.objects[CRM_LOG].values()
            if r["apiName"] == api_name and (not field_name or r["fieldApiName"] == field_name)
        ]
        return self._serve_rows(user, data, CRM_LOG, rows=rows, default_order="operateTime")

    def _serve_rows(
        self,
        user: str,
        data: dict,
        api_name: str,
        *,
        rows: list[dict] | None = None,
        default_order: str = "last_modified_time",
    ) -> dict:
        info = data.get("search_query_info") or {}
        limit, offset = info.get("limit", 20), info.get("offset", 0)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise _ApiError(10001, f"limit最大为{MAX_LIMIT}")
        if not isinstance(offset, int) or offset < 0 or offset % limit:
            raise _ApiError(10001, "offset必须是limit的整数倍")
        faults = self._state.faults
        if faults.max_offset is not None and offset > faults.max_offset:
            raise _ApiError(10001, f"offset不能大于{faults.max_offset}")
        if rows is None:
            rows = list(self._state.data.objects[api_name].values())
        if not faults.return_invalid:
            rows = [r for r in rows if r.get("life_status") != "invalid"]
        if user != self.ADMIN_OPEN_USER_ID:  # data permissions follow the calling user
            rows = [r for r in rows if user in (r.get("owner") or r.get("operator") or [])]
        for flt in info.get("filters") or []:
            if not isinstance(flt, dict) or flt.get("operator") not in _OPERATORS:
                raise _ApiError(10001, f"不支持的过滤条件{flt}")
            rows = [r for r in rows if _matches(r, flt)]
        rows = _sort(rows, info.get("orders") or [{"fieldName": default_order, "isAsc": False}])
        page = rows[offset : offset + limit]
        projection = info.get("fieldProjection")
        out = [
            {k: v for k, v in r.items() if k in projection or k == "_id"} if projection else r for r in page
        ]
        result: dict[str, Any] = {"dataList": copy.deepcopy(out), "offset": offset, "limit": limit}
        if data.get("find_explicit_total_num", True) is not False:
            result["total"] = len(rows)
        if faults.modify_during_paging > 0 and page and faults.modify_after_pages > 0:
            faults.modify_after_pages -= 1
        elif faults.modify_during_paging > 0 and page:
            now_ms = to_ms(self._clock())
            for rec in page[: faults.modify_during_paging]:
                _touch(rec, now_ms)
            faults.modify_during_paging = 0
        return {**_error(0, "success"), "data": result}

    # --- admin surface ----------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> _Response:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "body is not JSON"})
        if method == "GET" and path == "/__admin/stats":
            with self._lock:
                return _json(
                    200,
                    {
                        "requests": dict(self._state.counts),
                        "trace_ids": len(self._state.trace_ids),
                        "tokens_issued": len(self._state.tokens),
                        "faults": asdict(self._state.faults),
                    },
                )
        if method != "POST":
            return _json(405, {"error": "method not allowed"})
        if path == "/__admin/faults":
            names = {f.name for f in fields(FxiaokeFaults)}
            unknown = set(payload) - names
            if unknown:
                return _json(400, {"error": f"unknown faults: {sorted(unknown)}"})
            with self._lock:
                for name, value in payload.items():
                    setattr(self._state.faults, name, value)
                return _json(200, asdict(self._state.faults))
        if path == "/__admin/simulate":
            try:
                obj = payload.pop("obj")
                return _json(200, self.simulate(obj, **payload))
            except (KeyError, TypeError, ValueError) as err:
                return _json(400, {"error": str(err)})
        if path == "/__admin/reset":
            self.reset()
            return _json(200, {"reset": True})
        return _json(404, {"error": "unknown admin path"})


class _Handler(BaseHTTPRequestHandler):
    sandbox: FxiaokeSandbox
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        resp = self.sandbox._handle(method, self.path, body, dict(self.headers.items()))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if resp.reset:
                # Half the body, then an RST: the client sees "connection reset" mid-response.
                self.wfile.write(resp.body[: len(resp.body) // 2])
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            self.wfile.write(resp.body)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


# --- small pure helpers ------------------------------------------------------------------------------


def _api_name(obj: str) -> str:
    return OBJECT_API_NAMES.get(obj, obj)


def _touch(rec: dict, now_ms: int) -> None:
    rec["last_modified_time"] = now_ms
    rec["version"] = str(int(rec.get("version") or "0") + 1)


def _error(code: int, message: str) -> dict:
    return {"errorCode": code, "errorMessage": message, "traceId": f"E-O.sandbox.{secrets.token_hex(8)}"}


def _json(status: int, payload: dict) -> _Response:
    return _Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


_OPERATORS = frozenset({"EQ", "N", "IN", "NIN", "IS", "ISN", "GT", "GTE", "LT", "LTE", "BETWEEN"})


def _matches(rec: dict, flt: dict) -> bool:
    """One data/query filter. Values compare as given (ms numbers for time fields)."""
    name, op, values = flt.get("field_name"), flt.get("operator"), flt.get("field_values") or []
    value = rec.get(name)
    first = values[0] if values else None
    try:
        if op == "EQ":
            return value == first or str(value) == str(first)
        if op == "N":
            return not (value == first or str(value) == str(first))
        if op == "IN":
            return value in values or str(value) in {str(v) for v in values}
        if op == "NIN":
            return not (value in values or str(value) in {str(v) for v in values})
        if op == "IS":
            return value is None
        if op == "ISN":
            return value is not None
        if value is None:
            return False
        if op == "GT":
            return value > first
        if op == "GTE":
            return value >= first
        if op == "LT":
            return value < first
        if op == "LTE":
            return value <= first
        if op == "BETWEEN":
            return values[0] <= value <= values[1]
    except (TypeError, IndexError):
        raise _ApiError(10001, f"过滤条件{name}的值不合法") from None
    raise _ApiError(10001, f"不支持的操作符{op}")


def _sort(rows: list[dict], orders: list[dict]) -> list[dict]:
    """Stable multi-key sort; ``None`` sorts first ascending, like the CRM's nulls."""
    for order in reversed(orders):
        name = order.get("fieldName")
        rows = sorted(
            rows,
            key=lambda r, n=name: (r.get(n) is not None, r.get(n) if r.get(n) is not None else 0),
            reverse=not order.get("isAsc", True),
        )
    return rows
