"""A local Zoho CRM v8 server: the accounts (OAuth) host and a distinct API host, over real HTTP.

Why a real socket server and not a mocked ``requests``: the failures that break Zoho connectors in
production live on the wire (an empty 304 body, an HTML 502 from a proxy, a connection reset
mid-body, a token that dies an hour in, a CRM call sent to the accounts host). Only a server
that controls status lines, headers and the socket can reproduce them, and the same server then
serves the demo and the benchmarks. Record shapes follow ``docs/architecture.md``; behaviour
switches live in :class:`ZohoFaults`.

Usage::

    sandbox = ZohoSandbox(generate_company(deals=500))
    sandbox.start()
    ...  # point SALESOPS_ZOHO_ACCOUNTS_URL at sandbox.accounts_url
    sandbox.stop()
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from flows.sandbox.company import (
    Account,
    Company,
    Contact,
    Deal,
    Product,
    simulated_activity,
    simulated_invoice,
    simulated_lead,
    simulated_sales_order,
)
from flows.sandbox.zoho_encoding import (
    ACTIVITY_MODULES,
    MODULES,
    ORG_TZ,
    PIPELINE,
    RICH_TEXT_FIELDS,
    RICH_TEXT_LIST_LIMIT,
    STAGE_HISTORY_FIELDS,
    ZohoEncoder,
    ZohoRow,
    field_metadata,
    parse_zoho_datetime,
    zoho_id,
)

log = logging.getLogger(__name__)

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
_HTML_5XX = (
    "<html><head><title>{status} Bad Gateway</title></head><body><center><h1>{status}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)


@dataclass
class ZohoFaults:
    """Switches a test flips at runtime (also settable over ``POST /__admin/faults``).

    Counters (``server_errors``, ``rate_limits`` ...) are "the next K matching API calls" and count
    down as they fire; ``fault_path`` restricts the transient faults to paths containing it.
    """

    #: every access token dies after this many CRM calls (answering 401 ``auth_error_code``).
    token_max_calls: int | None = None
    auth_error_code: str = "INVALID_TOKEN"  # or AUTHENTICATION_FAILURE
    #: refreshes allowed per refresh token per window (Zoho: 10 per 10 minutes).
    refresh_limit: int = 10
    refresh_window_seconds: float = 600.0
    #: the next K refreshes are throttled regardless of the window.
    throttle_refreshes: int = 0
    #: ``expires_in`` in ms plus ``expires_in_sec`` (the legacy shape the SDK still handles).
    legacy_expires_in: bool = False
    accept_bearer: bool = False
    rate_limits: int = 0
    retry_after: int | None = None
    server_errors: int = 0
    server_error_status: int = 500
    server_error_body: str = "json"  # json | html | empty
    connection_resets: int = 0
    delay_seconds: float = 0.0
    fault_path: str | None = None
    #: right after page 1 of a record listing is served, touch this many of its records ("now").
    modify_after_first_page: int = 0
    #: the next K record listings answer ``more_records: true`` with an empty ``data``.
    empty_pages_with_more: int = 0
    #: the next K record listings come without ``info``.
    missing_info: int = 0
    #: ids served without ``Modified_Time`` (Airbyte #53218).
    omit_modified_time: set[str] = field(default_factory=set)
    #: extra custom fields in ``/settings/fields``, to push a module past the 50-field limit.
    extra_custom_fields: int = 0
    #: per-app concurrency cap (Zoho: 5-25 by edition); requests beyond it get 429 TOO_MANY_REQUESTS.
    concurrency_cap: int | None = None
    #: API credits per rolling 24 h (1 per CRM call); once spent, 429 until the oldest call ages out.
    daily_credits: int | None = None
    #: send ``Retry-After`` (seconds until a credit frees up) with credit-exhaustion 429s.
    credit_retry_after: bool = False
    #: users endpoint shows one deal owner as ``deleted`` and another user as ``disabled``.
    deleted_users: bool = False
    #: some deals in a second pipeline (``Renewals``), some in a custom stage the pipeline API omits.
    pipeline_variety: bool = False
    #: the next K record listings repeat, first, the last record of the previous listing of the module.
    duplicate_ids: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}")
        for name, value in changes.items():
            setattr(self, name, set(value) if name == "omit_modified_time" else value)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["omit_modified_time"] = sorted(self.omit_modified_time)
        return data


@dataclass
class _Reply:
    status: int
    body: bytes | None = None
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False


@dataclass
class _Token:
    issued_at: datetime
    calls: int = 0


@dataclass
class _PageToken:
    signature: tuple
    offset: int
    expires: datetime


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return float(obj)
        raise TypeError(type(obj).__name__)

    body = json.dumps(payload, ensure_ascii=False, default=default).encode("utf-8")
    return _Reply(status, body, headers=headers or {})


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> _Reply:
    return _json(status, {"code": code, "details": details or {}, "message": message, "status": "error"})


class _BadRequest(Exception):
    def __init__(self, reply: _Reply):
        self.reply = reply


class ZohoSandbox:
    """Serves one :class:`Company` (its Zoho part) as Zoho CRM v8. Thread-safe; clock injectable."""

    CLIENT_ID = "1000.SALESOPSDEMO"
    CLIENT_SECRET = "salesops-demo-secret"
    REFRESH_TOKEN = "1000.demo-refresh-token"

    def __init__(
        self,
        company: Company,
        *,
        host: str = "127.0.0.1",
        accounts_port: int = 0,
        api_port: int = 0,
        clock: Callable[[], datetime] | None = None,
        org_tz: str | None = None,
    ):
        """``org_tz``: the org's time zone (default ``America/Los_Angeles``; ``Asia/Kolkata`` gives
        ``+05:30``): every datetime on the wire carries its offset."""
        self.company = company.for_crm("zoho")
        self.host = host
        self._ports = (accounts_port, api_port)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.faults = ZohoFaults()
        self.accounts_url = ""
        self.api_url = ""
        self._lock = threading.RLock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._counts: Counter[str] = Counter()
        self._tokens: dict[str, _Token] = {}
        self._page_tokens: dict[str, _PageToken] = {}
        self._refreshes: deque[datetime] = deque()
        self.tokens_issued = 0
        #: record listings answered through a page_token (how tests see the 2000-record switch).
        self.page_token_requests = 0
        self._rng = random.Random(f"zoho-sandbox:{self.company.name}")
        self.encoder = ZohoEncoder(self.company, ZoneInfo(org_tz) if org_tz else ORG_TZ)
        self._users = [self.encoder.user(u) for u in self.company.users]
        self._history: dict[str, list[ZohoRow]] = {
            zoho_id("Deals", d.key): self.encoder.stage_history(d) for d in self.company.deals
        }
        self._in_flight = 0
        #: the most API requests seen in flight at once (what a concurrency test asserts on).
        self.max_in_flight = 0
        self._credits: deque[datetime] = deque()
        self._last_served: dict[str, dict[str, Any]] = {}
        self._deleted_owner_id, self._disabled_user_id = self._pick_deleted_users()
        self._rows: dict[str, dict[str, ZohoRow]] = {
            m: {row.record["id"]: row for row in self.encoder.module_rows(m)} for m in MODULES
        }
        self._deleted: dict[str, list[tuple[datetime, dict[str, Any]]]] = {m: [] for m in MODULES}

    @classmethod
    def from_company(cls, company: Company, **kwargs: Any) -> ZohoSandbox:
        return cls(company, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._servers:
            return
        for port, dispatch in zip(self._ports, (self._dispatch_accounts, self._dispatch_api), strict=True):
            server = _Server((self.host, port), _handler_for(dispatch))
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name=f"zoho-sandbox:{port}", daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.accounts_url = f"http://{self.host}:{self._servers[0].server_address[1]}"
        self.api_url = f"http://{self.host}:{self._servers[1].server_address[1]}"

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> ZohoSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- observation and control -------------------------------------------------------------
    def request_counts(self) -> dict[str, int]:
        """Requests received per endpoint (path without query, module filled in), faults included."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Clear faults, counters and the refresh window (the data stays as it is)."""
        with self._lock:
            self.faults = ZohoFaults()
            self._counts.clear()
            self._refreshes.clear()
            self._credits.clear()
            self._last_served.clear()
            self.page_token_requests = 0
            self.max_in_flight = 0

    def now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def revoke_tokens(self) -> None:
        """Invalidate every access token (as if they expired on Zoho's side)."""
        with self._lock:
            self._tokens.clear()

    def deleted_user_id(self) -> str | None:
        """The user shown as ``deleted`` when ``faults.deleted_users`` is on (a deal owner)."""
        return self._deleted_owner_id

    def disabled_user_id(self) -> str | None:
        return self._disabled_user_id

    def stage_history(self, deal_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r.record) for r in self._history.get(deal_id, [])]

    def _pick_deleted_users(self) -> tuple[str | None, str | None]:
        owners = Counter(d.owner_key for d in self.company.deals)
        inactive = [u for u in self.company.users if not u.active and owners[u.key]]
        reps = [u for u in self.company.users if u.role == "rep" and owners[u.key]]
        pool = inactive or reps
        if not pool:
            return None, None
        deleted = max(pool, key=lambda u: (owners[u.key], -u.key))
        others = [u for u in self.company.users if u.key != deleted.key and u.role == "rep"]
        disabled = others[-1] if others else None
        return zoho_id("users", deleted.key), zoho_id("users", disabled.key) if disabled else None

    def live_ids(self, module: str) -> list[str]:
        with self._lock:
            return sorted(self._rows[self._module(module)])

    def simulate(
        self,
        module: str,
        *,
        create: int = 0,
        update: int = 0,
        delete: int = 0,
        permanent: bool = False,
        modify_then_delete: int = 0,
    ) -> dict:
        """Create, update and delete records "now" (sandbox clock). Returns the ids touched.

        Any module can be created in: new leads are owned by an active rep, new sales orders are
        for an existing won deal (its account, owner, amount and currency), new invoices bill an
        existing order that is not cancelled (:func:`flows.sandbox.company.simulated_lead` ...).

        ``modify_then_delete`` records are modified and then deleted in the same instant: a
        record both modified and deleted within one incremental window."""
        module = self._module(module)
        now = self.now()
        with self._lock:
            rows = self._rows[module]
            live = sorted(rows)
            if update + delete + modify_then_delete > len(live):
                raise ValueError(
                    f"{module} has {len(live)} records; cannot update {update} and delete "
                    f"{delete + modify_then_delete}"
                )
            picked = self._rng.sample(live, update + delete + modify_then_delete)
            updated = sorted(picked[:update])
            deleted = sorted(picked[update : update + delete])
            both = sorted(picked[update + delete :])
            for rid in updated + both:
                self._touch(module, rid, now, mutate=True)
            for rid in deleted + both:
                self._delete(module, rid, now, permanent)
            created = [self._create(module, now) for _ in range(create)]
        out = {"module": module, "created": created, "updated": updated, "deleted": deleted}
        if modify_then_delete:
            out["modified_and_deleted"] = both
        return out

    def _module(self, name: str) -> str:
        for module in MODULES:
            if module.lower() == name.lower():
                return module
        raise ValueError(f"unknown Zoho module {name!r}; known: {', '.join(MODULES)}")

    def _touch(self, module: str, rid: str, now: datetime, *, mutate: bool) -> None:
        row = self._rows[module][rid]
        record = row.record
        if mutate:
            if module == "Deals" and record.get("Amount") is not None:
                record["Amount"] = round(record["Amount"] + 1000, 2)
                # Zoho logs a Stage_History entry whenever Stage/Amount/Probability/Closing_Date change.
                history = self._history.setdefault(rid, [])
                hid = zoho_id("Stage_History", int(rid[-9:]) * 64 + 32 + len(history) % 32)
                entry = dict(history[-1].record) if history else {"Stage": record.get("Stage")}
                entry.update(
                    id=hid,
                    Amount=record["Amount"],
                    Probability=record.get("Probability"),
                    Closing_Date=record.get("Closing_Date"),
                    Modified_Time=self.encoder.dt(now),
                    Modified_By=self.encoder.user_lookup(self.company.users[0].key)
                    if self.company.users
                    else None,
                )
                history.append(ZohoRow(entry, now, now))
            elif module == "Leads":
                record["Lead_Status"] = "Contacted" if not record.get("Converted__s") else "Converted"
                record["Email"] = (
                    f"updated{int(now.timestamp())}@{(record.get('Email') or '@x').split('@')[-1]}"
                )
            elif module in ("Sales_Orders", "Invoices"):
                record["Description"] = f"Updated {self.encoder.dt(now)}"
            elif module == "Accounts":
                record["Employees"] = (record.get("Employees") or 0) + 1
            elif module == "Products":
                record["Unit_Price"] = round((record.get("Unit_Price") or 0) + 10, 2)
            elif module in ("Tasks", "Calls", "Events"):
                record["Description"] = f"Notes updated {self.encoder.dt(now)}"
            else:
                record["Title"] = f"Updated {self.encoder.dt(now)}"
        record["Modified_Time"] = self.encoder.dt(now)
        row.modified = now

    def _delete(self, module: str, rid: str, now: datetime, permanent: bool) -> None:
        row = self._rows[module].pop(rid)
        name_key = {
            "Deals": "Deal_Name",
            "Accounts": "Account_Name",
            "Contacts": "Full_Name",
            "Leads": "Full_Name",
            "Sales_Orders": "Subject",
            "Invoices": "Subject",
            "Tasks": "Subject",
            "Calls": "Subject",
            "Events": "Event_Title",
        }.get(module, "Product_Name")
        actor = self.encoder.user_lookup(self.company.users[0].key) if self.company.users else None
        entry = {
            "deleted_by": None if permanent else actor,
            "id": rid,
            "display_name": None if permanent else row.record.get(name_key),
            "type": "permanent" if permanent else "recycle",
            "created_by": None if permanent else actor,
            "deleted_time": self.encoder.dt(now),
        }
        self._deleted[module].append((now, entry))

    def _create(self, module: str, now: datetime) -> str:
        enc = self.encoder
        used = list(self._rows[module]) + [e["id"] for _, e in self._deleted[module]]
        key = 1 + max((int(rid[-9:]) for rid in used), default=0)
        owner = enc.default_owner_key()
        account_key = self.company.accounts[0].key if self.company.accounts else None
        if module == "Deals":
            stage, prob, _ = self.company.pipelines.get("zoho", [("Qualification", 10, "open")])[0]
            obj = Deal(
                key,
                f"Simulated deal {key}",
                "zoho",
                account_key,
                None,
                owner,
                self.company.products[0].key if self.company.products else None,
                Decimal("10000.00"),
                "USD",
                stage,
                "open",
                prob,
                now,
                (now + timedelta(days=30)).date(),
                now,
                "Partner",
            )
            self.company.deals.append(obj)
            enc.deals[key] = obj
            row = enc.deal(obj)
            self._history[row.record["id"]] = [
                enc.history_row(obj, zoho_id("Stage_History", key * 64), stage, obj.amount, prob, now)
            ]
        elif module == "Accounts":
            region = self.company.regions[0].name if self.company.regions else "North America"
            obj_a = Account(key, f"Simulated Account {key}", "Technology", region, "zoho", owner, now, now)
            self.company.accounts.append(obj_a)
            enc.accounts[key] = obj_a
            row = enc.account(obj_a)
        elif module == "Contacts":
            obj_c = Contact(
                key,
                account_key or 0,
                "Sim",
                f"Contact{key}",
                f"sim{key}@example.com",
                "zoho",
                owner,
                now,
                now,
            )
            self.company.contacts.append(obj_c)
            enc.contacts[key] = obj_c
            row = enc.contact(obj_c)
        elif module == "Products":
            obj_p = Product(key, f"Simulated Product {key}", "Cloud", Decimal("1000.00"))
            self.company.products.append(obj_p)
            enc.products[key] = obj_p
            row = enc.product(obj_p)
        elif module == "Leads":
            lead = simulated_lead(self.company, key, self._rng, now)
            self.company.leads.append(lead)
            row = enc.lead(lead)
        elif module == "Sales_Orders":
            order = simulated_sales_order(self.company, key, self._rng, now)
            self.company.sales_orders.append(order)
            enc.orders[key] = order  # what a new invoice's Sales_Order lookup names
            row = enc.sales_order(order)
        elif module == "Invoices":
            invoice = simulated_invoice(self.company, key, self._rng, now)
            self.company.invoices.append(invoice)
            row = enc.invoice(invoice)
        elif module in ACTIVITY_MODULES:
            act = simulated_activity(self.company, ACTIVITY_MODULES[module], key, self._rng, now)
            self.company.activities.append(act)
            row = enc.activity(act)
        else:
            raise ValueError(f"cannot create {module} records")
        row.record["Created_Time"] = row.record["Modified_Time"] = self.encoder.dt(now)
        row.created = row.modified = now
        self._rows[module][row.record["id"]] = row
        return row.record["id"]

    # --- accounts host -----------------------------------------------------------------------
    def _dispatch_accounts(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> _Reply:
        with self._lock:
            self._counts[path] += 1
        if path != "/oauth/v2/token":
            # What a CRM call sent to the accounts host gets: not an API answer.
            return _Reply(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        if method != "POST":
            return _json(405, {"error": "invalid_request_method"})
        params = dict(query)
        if body and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
            params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        if params.get("grant_type") != "refresh_token":
            return _json(400, {"error": "unsupported_grant_type"})
        if params.get("client_id") != self.CLIENT_ID or params.get("client_secret") != self.CLIENT_SECRET:
            return _json(400, {"error": "invalid_client"})
        if params.get("refresh_token") != self.REFRESH_TOKEN:
            return _json(400, {"error": "invalid_code"})
        with self._lock:
            now = self.clock()
            window = timedelta(seconds=self.faults.refresh_window_seconds)
            while self._refreshes and now - self._refreshes[0] >= window:
                self._refreshes.popleft()
            if self.faults.throttle_refreshes > 0 or len(self._refreshes) >= self.faults.refresh_limit:
                self.faults.throttle_refreshes = max(0, self.faults.throttle_refreshes - 1)
                return _json(400, THROTTLED)
            self._refreshes.append(now)
            token = "1000." + secrets.token_hex(16)
            self._tokens[token] = _Token(issued_at=now)
            self.tokens_issued += 1
            legacy = self.faults.legacy_expires_in
        payload = {
            "access_token": token,
            "scope": "ZohoCRM.modules.ALL ZohoCRM.users.READ ZohoCRM.settings.fields.READ",
            "api_domain": self.api_url,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS * 1000 if legacy else ACCESS_TOKEN_SECONDS,
        }
        if legacy:
            payload["expires_in_sec"] = ACCESS_TOKEN_SECONDS
        return _json(200, payload)

    # --- api host ----------------------------------------------------------------------------
    def _dispatch_api(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> _Reply:
        if path.startswith("/__admin/"):
            return self._admin(method, path, body)
        with self._lock:
            self._counts[path] += 1
            cap = self.faults.concurrency_cap
            if cap is not None and self._in_flight >= cap:
                return _error(
                    429,
                    "TOO_MANY_REQUESTS",
                    "The concurrency limit of the user for the app is exceeded",
                    {"limit": cap},
                )
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            return self._dispatch_api_call(method, path, query, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _dispatch_api_call(self, method: str, path: str, query: dict[str, str], headers: Any) -> _Reply:
        fault = self._transient_fault(path)
        if fault is not None:
            return fault
        if not path.startswith(API_PREFIX + "/"):
            return _error(
                404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
            )
        if method != "GET":
            return _error(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")
        denied = self._authenticate(headers.get("Authorization"))
        if denied is not None:
            return denied
        exhausted = self._spend_credit()
        if exhausted is not None:
            return exhausted
        route = path[len(API_PREFIX) + 1 :].split("/")
        try:
            if route == ["users"]:
                return self._users_list(query)
            if route == ["settings", "fields"]:
                return self._fields(query)
            if route == ["settings", "pipeline"]:
                return self._pipelines(query)
            if len(route) == 2 and route[1] == "deleted":
                return self._deleted_list(self._api_module(route[0]), query, headers)
            if len(route) == 3 and route[0] == "Deals" and route[2] == "Stage_History":
                return self._stage_history(route[1], query)
            if len(route) == 2:
                return self._one_record(self._api_module(route[0]), route[1])
            if len(route) == 1:
                return self._records(self._api_module(route[0]), query, headers)
        except _BadRequest as bad:
            return bad.reply
        return _error(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")

    def _spend_credit(self) -> _Reply | None:
        """One credit per CRM call over a rolling 24 h window (§1.6); 429 once the budget is spent."""
        with self._lock:
            budget = self.faults.daily_credits
            if budget is None:
                return None
            now = self.clock()
            while self._credits and now - self._credits[0] >= CREDIT_WINDOW:
                self._credits.popleft()
            if len(self._credits) >= budget:
                reply = _error(
                    429,
                    "TOO_MANY_REQUESTS",
                    "Number of API requests for the 24 hour period is exceeded",
                    {"limit": budget},
                )
                if self.faults.credit_retry_after:
                    wait = (self._credits[0] + CREDIT_WINDOW - now).total_seconds()
                    reply.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
                return reply
            self._credits.append(now)
            return None

    def credits_used(self) -> int:
        """Credits spent in the current rolling 24 h window (only counted while a budget is set)."""
        with self._lock:
            now = self.clock()
            return sum(1 for at in self._credits if now - at < CREDIT_WINDOW)

    def _transient_fault(self, path: str) -> _Reply | None:
        with self._lock:
            f = self.faults
            if f.fault_path and f.fault_path not in path:
                return None
            delay = f.delay_seconds
            reply: _Reply | None = None
            if f.connection_resets > 0:
                f.connection_resets -= 1
                reply = _Reply(200, reset=True)
            elif f.server_errors > 0:
                f.server_errors -= 1
                status = f.server_error_status
                if f.server_error_body == "html":
                    reply = _Reply(status, _HTML_5XX.format(status=status).encode(), "text/html")
                elif f.server_error_body == "empty":
                    reply = _Reply(status, b"", "text/plain")
                else:
                    reply = _error(status, "INTERNAL_ERROR", "Internal Server Error")
            elif f.rate_limits > 0:
                f.rate_limits -= 1
                reply = _error(429, "TOO_MANY_REQUESTS", "The number of API requests has exceeded the limit")
                if f.retry_after is not None:
                    reply.headers["Retry-After"] = str(f.retry_after)
        if delay:
            time.sleep(delay)  # outside the lock: other requests keep flowing
        return reply

    def _authenticate(self, header: str | None) -> _Reply | None:
        match = re.fullmatch(r"(Zoho-oauthtoken|Bearer) (\S+)", header or "")
        if match is None or (match.group(1) == "Bearer" and not self.faults.accept_bearer):
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        with self._lock:
            token = self._tokens.get(match.group(2))
            now = self.clock()
            if token is None or now - token.issued_at >= timedelta(seconds=ACCESS_TOKEN_SECONDS):
                return _error(401, "INVALID_TOKEN", "invalid oauth token")
            limit = self.faults.token_max_calls
            if limit is not None and token.calls >= limit:
                return _error(401, self.faults.auth_error_code, "invalid oauth token")
            token.calls += 1
        return None

    def _api_module(self, name: str) -> str:
        if name not in MODULES:
            raise _BadRequest(
                _error(
                    400,
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"resource_path_index": 0},
                )
            )
        return name

    # --- endpoints ---------------------------------------------------------------------------
    def _users_list(self, query: dict[str, str]) -> _Reply:
        kind = query.get("type", "AllUsers")
        if kind not in USER_TYPES:
            return _error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
        page, per_page = self._page_params(query)
        with self._lock:
            users = [dict(u.record) for u in self._users]
            if self.faults.deleted_users:
                for u in users:
                    if u["id"] == self._deleted_owner_id:
                        u["status"] = "deleted"
                    elif u["id"] == self._disabled_user_id:
                        u["status"] = "disabled"
        if kind == "ActiveUsers":
            users = [u for u in users if u["status"] == "active"]
        elif kind == "DeactiveUsers":
            users = [u for u in users if u["status"] in ("inactive", "disabled")]
        elif kind == "DeletedUsers":
            users = [u for u in users if u["status"] == "deleted"]
        chunk = users[(page - 1) * per_page : page * per_page]
        if not chunk:
            return _Reply(204)
        more = page * per_page < len(users)
        info = {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more}
        return _json(200, {"users": json.loads(json.dumps(chunk)), "info": info})

    def _fields(self, query: dict[str, str]) -> _Reply:
        module = query.get("module")
        if not module:
            return _error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "module"},
            )
        return _json(
            200, {"fields": field_metadata(self._api_module(module), self.faults.extra_custom_fields)}
        )

    def _page_params(self, query: dict[str, str]) -> tuple[int, int]:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", str(MAX_PER_PAGE)))
        except ValueError as exc:
            raise _BadRequest(_error(400, "INVALID_DATA", "invalid data", {"param_name": "page"})) from exc
        if per_page > MAX_PER_PAGE or per_page < 1:
            raise _BadRequest(
                _error(
                    400,
                    "LIMIT_EXCEEDED",
                    "per_page exceeds the limit",
                    {"param_name": "per_page", "limit": MAX_PER_PAGE},
                )
            )
        if page < 1:
            raise _BadRequest(_error(400, "INVALID_DATA", "invalid data", {"param_name": "page"}))
        return page, per_page

    def _since(self, headers: Any) -> datetime | None:
        value = headers.get("If-Modified-Since")
        if not value:
            return None
        try:
            return parse_zoho_datetime(value).astimezone(UTC)
        except ValueError as exc:
            raise _BadRequest(
                _error(400, "INVALID_DATA", "invalid If-Modified-Since", {"header_name": "If-Modified-Since"})
            ) from exc

    @staticmethod
    def _requested_fields(query: dict[str, str]) -> list[str]:
        """The ``fields`` parameter, which record listings and related lists require."""
        requested = [f for f in (query.get("fields") or "").split(",") if f.strip()]
        if not requested:
            raise _BadRequest(
                _error(
                    400,
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                )
            )
        return requested

    def _records(self, module: str, query: dict[str, str], headers: Any) -> _Reply:
        requested = self._requested_fields(query)
        if len(requested) > MAX_FIELDS:
            return _error(
                400,
                "LIMIT_EXCEEDED",
                "the number of fields exceeds the limit",
                {"param_name": "fields", "limit": MAX_FIELDS},
            )
        if "page" in query and "page_token" in query:
            return _error(
                400,
                "AMBIGUITY_DURING_PROCESSING",
                "page and page_token cannot be given together",
                {"ambiguity_due_to": ["page", "page_token"]},
            )
        page, per_page = self._page_params(query)
        sort_by, sort_order = query.get("sort_by", "id"), query.get("sort_order", "desc")
        if sort_by not in SORT_KEYS or sort_order not in ("asc", "desc"):
            return _error(400, "INVALID_DATA", "invalid data", {"param_name": "sort_by"})
        since = self._since(headers)
        now = self.clock()
        signature = (
            tuple(sorted((k, v) for k, v in query.items() if k not in ("page", "page_token"))),
            headers.get("If-Modified-Since"),
        )
        with self._lock:
            if "page_token" in query:
                self.page_token_requests += 1
                token = self._page_tokens.get(query["page_token"])
                if token is None:
                    return _error(
                        400, "INVALID_DATA", "the given page_token is invalid", {"param_name": "page_token"}
                    )
                if now >= token.expires:
                    return _error(
                        400, "EXPIRED_VALUE", "the page_token has expired", {"param_name": "page_token"}
                    )
                if token.signature != signature:
                    return _error(
                        400,
                        "TOKEN_BOUND_DATA_MISMATCH",
                        "parameters differ from the page_token's",
                        {"param_name": "page_token"},
                    )
                offset = token.offset
                if offset >= TOKEN_LIMIT:
                    return _error(
                        400,
                        "PAGINATION_LIMIT_EXCEEDED",
                        "cannot fetch more than 100000 records",
                        {"limit": TOKEN_LIMIT},
                    )
                page = offset // per_page + 1
            else:
                offset = (page - 1) * per_page
                if offset + per_page > DISCRETE_LIMIT:
                    return _error(
                        400,
                        "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
                        "You can only get the first 2000 records without using page_token param",
                        {"limit": DISCRETE_LIMIT},
                    )
            all_rows = list(self._rows[module].values())
            if module == "Leads":
                converted = query.get("converted", "false")
                if converted not in ("true", "false", "both"):
                    return _error(400, "INVALID_DATA", "invalid data", {"param_name": "converted"})
                if converted != "both":
                    want = converted == "true"
                    all_rows = [r for r in all_rows if bool(r.record.get("Converted__s")) == want]
            rows = [r for r in all_rows if since is None or r.modified >= since]
            if not rows:
                return _Reply(304) if since is not None and all_rows else _Reply(204)
            rows.sort(key=_sort_key(sort_by), reverse=sort_order == "desc")
            chunk = rows[offset : offset + per_page]
            more = offset + per_page < len(rows)
            info: dict[str, Any] = {
                "call": False,
                "per_page": per_page,
                "count": len(chunk),
                "page": page,
                "sort_by": sort_by,
                "sort_order": sort_order,
                "email": False,
                "more_records": more,
                "next_page_token": None,
                "previous_page_token": None,
                "page_token_expiry": None,
            }
            if more:
                next_token = secrets.token_hex(12)
                expires = now + timedelta(hours=24)
                self._page_tokens[next_token] = _PageToken(signature, offset + per_page, expires)
                info["next_page_token"], info["page_token_expiry"] = next_token, self.encoder.dt(expires)
            data = [self._project(r.record, requested) for r in chunk]
            f = self.faults
            previous = self._last_served.get(module)
            if data:
                self._last_served[module] = data[-1]
            if f.duplicate_ids > 0 and previous is not None and data:
                f.duplicate_ids -= 1
                data.insert(0, json.loads(json.dumps(previous)))
                info["count"] = len(data)
            if f.empty_pages_with_more > 0:
                f.empty_pages_with_more -= 1
                data, info["count"], info["more_records"] = [], 0, True
            payload: dict[str, Any] = {"data": data, "info": info}
            if f.missing_info > 0:
                f.missing_info -= 1
                del payload["info"]
            if f.modify_after_first_page > 0 and "page_token" not in query and page == 1 and more and chunk:
                touched_at = self.now()
                for row in chunk[: f.modify_after_first_page]:
                    self._touch(module, row.record["id"], touched_at, mutate=True)
                f.modify_after_first_page = 0
            return _json(200, payload)

    def _project(
        self, record: dict[str, Any], requested: list[str], *, listing: bool = True
    ) -> dict[str, Any]:
        """Only requested fields (+id), ``null`` for unknown ones, ``$`` keys always (as Zoho does).
        In a listing, rich-text fields are cut to 500 characters (the full text needs a single GET)."""
        record = self._variant(record)
        out: dict[str, Any] = {"id": record["id"]}
        for name in requested:
            out[name] = record.get(name)
            if listing and name in RICH_TEXT_FIELDS and isinstance(out[name], str):
                out[name] = out[name][:RICH_TEXT_LIST_LIMIT]
        out.update({k: v for k, v in record.items() if k.startswith("$")})
        if record["id"] in self.faults.omit_modified_time:
            out.pop("Modified_Time", None)
        return json.loads(json.dumps(out))  # a copy: later mutations must not leak into a sent page

    def _variant(self, record: dict[str, Any]) -> dict[str, Any]:
        """``pipeline_variety``: every 5th deal in the Renewals pipeline, every 7th in a custom stage
        that no pipeline lists (a stage renamed or added after the fact)."""
        if not self.faults.pipeline_variety or "Deal_Name" not in record:
            return record
        key = int(record["id"][-9:])
        if key % 7 == 0 and record.get("Stage") not in ("Closed Won", "Closed Lost"):
            record = dict(record, Stage=CUSTOM_STAGE)
        if key % 5 == 0:
            record = dict(record, Pipeline={"name": RENEWALS_PIPELINE, "id": zoho_id("pipelines", 2)})
        return record

    def _one_record(self, module: str, rid: str) -> _Reply:
        """``GET /{Module}/{id}``: every field, rich text in full."""
        with self._lock:
            row = self._rows[module].get(rid)
            if row is None:
                return _Reply(204)
            fields_ = [k for k in row.record if k != "id" and not k.startswith("$")]
            return _json(200, {"data": [self._project(row.record, fields_, listing=False)]})

    def _stage_history(self, deal_id: str, query: dict[str, str]) -> _Reply:
        """``GET /Deals/{id}/Stage_History`` (related list): ``fields`` required, newest first."""
        requested = self._requested_fields(query)
        page, per_page = self._page_params(query)
        with self._lock:
            if deal_id not in self._rows["Deals"]:
                return _error(
                    400, "INVALID_DATA", "the related id given seems to be invalid", {"id": deal_id}
                )
            rows = sorted(
                self._history.get(deal_id, []), key=lambda r: (r.modified, r.record["id"]), reverse=True
            )
            chunk = rows[(page - 1) * per_page : page * per_page]
            if not chunk:
                return _Reply(204)
            data = []
            for r in chunk:
                item = {"id": r.record["id"]}
                item.update({name: r.record.get(name) for name in requested if name in STAGE_HISTORY_FIELDS})
                data.append(json.loads(json.dumps(item)))
        more = page * per_page < len(rows)
        info = {"per_page": per_page, "count": len(data), "page": page, "more_records": more}
        return _json(200, {"data": data, "info": info})

    def pipelines(self) -> list[dict[str, Any]]:
        """The two pipelines of the Deals standard layout, as ``/settings/pipeline`` lists them."""
        stages = self.company.pipelines.get("zoho") or []
        forecast = {
            "open": ("Open", "Pipeline"),
            "won": ("Closed Won", "Closed"),
            "lost": ("Closed Lost", "Closed"),
        }

        def maps(subset: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
            out = []
            for seq, (name, prob, cat) in enumerate(subset, start=1):
                ftype, fcat = forecast.get(cat, ("Open", "Pipeline"))
                display = {
                    "Id. Decision Makers": "Identify Decision Makers",
                    "Closed Lost to Competition": "Closed-Lost to Competition",
                }.get(name, name)
                out.append(
                    {
                        "display_value": display,
                        "actual_value": name,
                        "sequence_number": seq,
                        "probability": prob,
                        "forecast_type": ftype,
                        "forecast_category": {"name": fcat, "id": zoho_id("stages", 900 + len(fcat))},
                        "id": zoho_id("stages", seq),
                    }
                )
            return out

        renewal = [s for s in stages if s[0] in ("Needs Analysis", "Negotiation/Review") or s[2] != "open"]
        return [
            {
                "display_value": "Standard",
                "actual_value": PIPELINE["name"],
                "default": True,
                "child_available": False,
                "parent": None,
                "id": zoho_id("pipelines", 1),
                "maps": maps(stages),
            },
            {
                "display_value": RENEWALS_PIPELINE,
                "actual_value": RENEWALS_PIPELINE,
                "default": False,
                "child_available": False,
                "parent": None,
                "id": zoho_id("pipelines", 2),
                "maps": maps(renewal),
            },
        ]

    def layout_id(self) -> str:
        return zoho_id("layouts", 1)

    def _pipelines(self, query: dict[str, str]) -> _Reply:
        layout = query.get("layout_id")
        if not layout:
            return _error(
                400,
                "REQUIRED_PARAM_MISSING",
                "One of the expected parameter is missing",
                {"param_name": "layout_id"},
            )
        if layout != self.layout_id():
            return _error(
                400, "INVALID_DATA", "the given layout id seems to be invalid", {"param_name": "layout_id"}
            )
        return _json(200, {"pipeline": self.pipelines()})

    def _deleted_list(self, module: str, query: dict[str, str], headers: Any) -> _Reply:
        kind = query.get("type", "all")
        if kind not in ("all", "recycle", "permanent"):
            return _error(400, "INVALID_DATA", "invalid data", {"param_name": "type"})
        page, per_page = self._page_params(query)
        since = self._since(headers)
        now = self.clock()
        with self._lock:
            entries = [
                (at, e)
                for at, e in self._deleted[module]
                if (kind == "all" or e["type"] == kind)
                and now - at <= RETENTION[e["type"]]
                and (since is None or at >= since)
            ]
        entries.sort(key=lambda item: (item[0], item[1]["id"]), reverse=True)
        chunk = [dict(e) for _, e in entries[(page - 1) * per_page : page * per_page]]
        if not chunk:
            return _Reply(204)
        more = page * per_page < len(entries)
        return _json(
            200,
            {
                "data": chunk,
                "info": {"per_page": per_page, "count": len(chunk), "page": page, "more_records": more},
            },
        )

    # --- admin -------------------------------------------------------------------------------
    def _admin(self, method: str, path: str, body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "body must be JSON"})
        try:
            if path == "/__admin/faults" and method == "POST":
                with self._lock:
                    self.faults.update(payload)
                    return _json(200, self.faults.as_dict())
            if path == "/__admin/faults" and method == "GET":
                return _json(200, self.faults.as_dict())
            if path == "/__admin/stats" and method == "GET":
                with self._lock:
                    return _json(
                        200,
                        {
                            "requests": dict(self._counts),
                            "tokens_issued": self.tokens_issued,
                            "page_token_requests": self.page_token_requests,
                            "max_in_flight": self.max_in_flight,
                            "credits_used_24h": len(self._credits),
                            "records": {m: len(r) for m, r in self._rows.items()},
                            "deleted": {m: len(d) for m, d in self._deleted.items()},
                        },
                    )
            if path == "/__admin/simulate" and method == "POST":
                module = payload.pop("module", "Deals")
                return _json(200, self.simulate(module, **payload))
            if path == "/__admin/reset" and method == "POST":
                self.reset()
                return _json(200, {"ok": True})
        except (TypeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": f"no admin endpoint {method} {path}"})


def _sort_key(sort_by: str) -> Callable[[ZohoRow], tuple]:
    if sort_by == "Modified_Time":
        return lambda r: (r.modified, r.record["id"])
    if sort_by == "Created_Time":
        return lambda r: (r.created, r.record["id"])
    return lambda r: (r.record["id"],)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("zoho sandbox: error handling a request from %s", client_address, exc_info=True)


Dispatch = Callable[[str, str, dict[str, str], Any, bytes], _Reply]


def _handler_for(dispatch: Dispatch) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ZohoSandbox/1.0"
        #: headers and body go out in separate writes; with Nagle on, keep-alive clients wait for
        #: a delayed ACK (~40 ms) on every call.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                reply = dispatch(self.command, url.path, query, self.headers, body)
            except Exception:
                log.exception("zoho sandbox: unhandled error on %s %s", self.command, url.path)
                reply = _error(500, "INTERNAL_ERROR", "Internal Server Error")
            if reply.reset:
                self._reset()
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.status in (204, 304):
                self.end_headers()
                return
            data = reply.body or b""
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reset(self) -> None:
            """Start a response, then abort the socket with RST (SO_LINGER 0): a reset mid-body."""
            self.wfile.write(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"data": ['
            )
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("zoho sandbox: " + format, *args)

    return Handler


__all__ = ["ZohoFaults", "ZohoSandbox", "zoho_id"]
