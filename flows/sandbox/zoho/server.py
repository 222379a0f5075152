"""A local Zoho CRM v8 server: the accounts (OAuth) host and a distinct API host, over real HTTP.

Why a real socket server and not a mocked ``requests``: the failures that break Zoho connectors in
production live on the wire (an empty 304 body, an HTML 502 from a proxy, a connection reset
mid-body, a token that dies an hour in, a CRM call sent to the accounts host). Record shapes
follow ``docs/architecture.md``; behaviour switches live in :class:`ZohoFaults`; the design notes
are in docs/sandbox.md.

Usage::

    sandbox = ZohoSandbox(generate_company(deals=500))
    sandbox.start()
    ...  # point SALESOPS_ZOHO_ACCOUNTS_URL at sandbox.accounts_url
    sandbox.stop()
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from flows.crm.zoho.limits import under_sub_concurrency
from flows.gc_pause import collector_paused
from flows.sandbox.company.model import Company
from flows.sandbox.httpd import (
    AdminRouter,
    BackgroundServer,
    Reply,
    Request,
    SandboxHandler,
    abort_connection,
)
from flows.sandbox.zoho.bulk import BULK_PREFIX, BulkJob, BulkRead
from flows.sandbox.zoho.bulk_query import BulkQuery
from flows.sandbox.zoho.encoding.records import ZohoEncoder
from flows.sandbox.zoho.encoding.wire import MODULES, ORG_TZ, ZohoRow, zoho_id
from flows.sandbox.zoho.faults import ZohoFaults
from flows.sandbox.zoho.listing import RecordEndpoints
from flows.sandbox.zoho.protocol import (
    ACCESS_TOKEN_SECONDS,
    API_PREFIX,
    CREDIT_WINDOW,
    HTML_5XX,
    THROTTLED,
    AccessToken,
    BadRequest,
    PageToken,
    error,
    json_answer,
)
from flows.sandbox.zoho.settings import SettingsEndpoints
from flows.sandbox.zoho.simulation import Simulation
from flows.sandbox.zoho.store import ModuleRows

log = logging.getLogger(__name__)


class ZohoSandbox(RecordEndpoints, SettingsEndpoints, Simulation, BulkRead):
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
        self._servers: list[BackgroundServer] = []
        self._admin = self._admin_router()
        self._counts: Counter[str] = Counter()
        self._tokens: dict[str, AccessToken] = {}
        self._page_tokens: dict[str, PageToken] = {}
        self._refreshes: deque[datetime] = deque()
        self.tokens_issued = 0
        #: record listings answered through a page_token (how tests see the 2000-record switch).
        self.page_token_requests = 0
        self._rng = random.Random(f"zoho-sandbox:{self.company.name}")
        self.encoder = ZohoEncoder(self.company, ZoneInfo(org_tz) if org_tz else ORG_TZ)
        self._users = [self.encoder.user(u) for u in self.company.users]
        #: Stage_History of the deals the sandbox edited or created; the others' is encoded when read.
        self._history: dict[str, list[ZohoRow]] = {}
        self._in_flight = 0
        self._sub_in_flight = 0
        #: the most API requests seen in flight at once (what a concurrency test asserts on).
        self.max_in_flight = 0
        #: the most sub-concurrency listings (``sort_by``/``cvid``) seen in flight at once.
        self.max_sub_in_flight = 0
        #: calls refused with 429 for the concurrency or sub-concurrency limit.
        self.concurrency_rejections = 0
        self._credits: deque[datetime] = deque()
        self._last_served: dict[str, dict[str, Any]] = {}
        self._deleted_owner_id, self._disabled_user_id = self._pick_deleted_users()
        with collector_paused():  # a row and three index entries per record: flows/gc_pause.py
            self._rows: dict[str, ModuleRows] = {m: ModuleRows(self.encoder.module_rows(m)) for m in MODULES}
        self._deleted: dict[str, list[tuple[datetime, dict[str, Any]]]] = {m: [] for m in MODULES}
        self._bulk_jobs: dict[str, BulkJob] = {}
        self._bulk_tokens: dict[str, tuple[BulkQuery, int]] = {}

    @classmethod
    def from_company(cls, company: Company, **kwargs: Any) -> ZohoSandbox:
        return cls(company, **kwargs)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._servers:
            return
        for port, dispatch in zip(self._ports, (self._dispatch_accounts, self._dispatch_api), strict=True):
            self._servers.append(
                BackgroundServer(self.host, port, _ZohoHandler, _by_parts(dispatch), f"zoho-sandbox:{port}")
            )
        self.accounts_url = f"http://{self.host}:{self._servers[0].address[1]}"
        self.api_url = f"http://{self.host}:{self._servers[1].address[1]}"

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers = []

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
            self.max_sub_in_flight = 0
            self.concurrency_rejections = 0

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
            return [dict(r.record) for r in self._deal_history(deal_id)]

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
        existing order that is not cancelled
        (:func:`~flows.sandbox.company.order_to_cash.simulated_lead` ...).

        ``modify_then_delete`` records are modified and then deleted in the same instant: a
        record both modified and deleted within one incremental window."""
        return self._simulate(module, create, update, delete, permanent, modify_then_delete)

    # --- accounts host -----------------------------------------------------------------------
    def _dispatch_accounts(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        with self._lock:
            self._counts[path] += 1
        if path != "/oauth/v2/token":
            # What a CRM call sent to the accounts host gets: not an API answer.
            return Reply(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        if method != "POST":
            return json_answer(405, {"error": "invalid_request_method"})
        params = dict(query)
        if body and "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
            params.update(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
        if params.get("grant_type") != "refresh_token":
            return json_answer(400, {"error": "unsupported_grant_type"})
        if params.get("client_id") != self.CLIENT_ID or params.get("client_secret") != self.CLIENT_SECRET:
            return json_answer(400, {"error": "invalid_client"})
        if params.get("refresh_token") != self.REFRESH_TOKEN:
            return json_answer(400, {"error": "invalid_code"})
        with self._lock:
            now = self.clock()
            window = timedelta(seconds=self.faults.refresh_window_seconds)
            while self._refreshes and now - self._refreshes[0] >= window:
                self._refreshes.popleft()
            if self.faults.throttle_refreshes > 0 or len(self._refreshes) >= self.faults.refresh_limit:
                self.faults.throttle_refreshes = max(0, self.faults.throttle_refreshes - 1)
                return json_answer(400, THROTTLED)
            self._refreshes.append(now)
            token = "1000." + secrets.token_hex(16)
            self._tokens[token] = AccessToken(issued_at=now)
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
        return json_answer(200, payload)

    # --- api host ----------------------------------------------------------------------------
    def _dispatch_api(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        if path.startswith("/__admin/"):
            return self._admin.handle(method, path, body)
        sub = method == "GET" and under_sub_concurrency(query)
        with self._lock:
            self._counts[path] += 1
            refused = self.faults.over_concurrency(self._in_flight, self._sub_in_flight, sub=sub)
            if refused is not None:
                self.concurrency_rejections += 1
                return refused
            self._in_flight += 1
            self._sub_in_flight += sub
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self.max_sub_in_flight = max(self.max_sub_in_flight, self._sub_in_flight)
        try:
            return self._dispatch_api_call(method, path, query, headers, body)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._sub_in_flight -= sub

    def _dispatch_api_call(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes
    ) -> Reply:
        fault = self._transient_fault(path)
        if fault is not None:
            return fault
        bulk = path.startswith(BULK_PREFIX + "/")
        if not path.startswith(API_PREFIX + "/") and not bulk:
            return error(
                404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
            )
        if method != "GET" and not (bulk and method == "POST"):
            return error(400, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")
        denied = self._authenticate(headers.get("Authorization"))
        if denied is not None:
            return denied
        exhausted = self._spend_credit()
        if exhausted is not None:
            return exhausted
        if bulk:
            return self._bulk(method, path[len(BULK_PREFIX) + 1 :].split("/"), body)
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
            if len(route) == 3 and route[1:] == ["actions", "count"]:  # Get Record Count
                module = self._api_module(route[0])
                with self._lock:
                    return json_answer(200, {"count": len(self._rows[module])})
            if len(route) == 3 and route[0] == "Deals" and route[2] == "Stage_History":
                return self._stage_history(route[1], query)
            if len(route) == 2:
                return self._one_record(self._api_module(route[0]), route[1])
            if len(route) == 1:
                return self._records(self._api_module(route[0]), query, headers)
        except BadRequest as bad:
            return bad.reply
        return error(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")

    def _spend_credit(self) -> Reply | None:
        """One credit per CRM call over a rolling 24 h window (§1.6); 429 once the budget is spent."""
        with self._lock:
            budget = self.faults.daily_credits
            if budget is None:
                return None
            now = self.clock()
            while self._credits and now - self._credits[0] >= CREDIT_WINDOW:
                self._credits.popleft()
            if len(self._credits) >= budget:
                reply = error(
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

    def _transient_fault(self, path: str) -> Reply | None:
        with self._lock:
            f = self.faults
            if f.fault_path and f.fault_path not in path:
                return None
            delay = f.delay_seconds
            reply: Reply | None = None
            if f.connection_resets > 0:
                f.connection_resets -= 1
                reply = Reply(200, reset=True)
            elif f.server_errors > 0:
                f.server_errors -= 1
                status = f.server_error_status
                if f.server_error_body == "html":
                    reply = Reply(status, HTML_5XX.format(status=status).encode(), "text/html")
                elif f.server_error_body == "empty":
                    reply = Reply(status, b"", "text/plain")
                else:
                    reply = error(status, "INTERNAL_ERROR", "Internal Server Error")
            elif f.rate_limits > 0:
                f.rate_limits -= 1
                reply = error(429, "TOO_MANY_REQUESTS", "The number of API requests has exceeded the limit")
                if f.retry_after is not None:
                    reply.headers["Retry-After"] = str(f.retry_after)
        if delay:
            time.sleep(delay)  # outside the lock: other requests keep flowing
        return reply

    def _authenticate(self, header: str | None) -> Reply | None:
        match = re.fullmatch(r"(Zoho-oauthtoken|Bearer) (\S+)", header or "")
        if match is None or (match.group(1) == "Bearer" and not self.faults.accept_bearer):
            return error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        with self._lock:
            token = self._tokens.get(match.group(2))
            now = self.clock()
            if token is None or now - token.issued_at >= timedelta(seconds=ACCESS_TOKEN_SECONDS):
                return error(401, "INVALID_TOKEN", "invalid oauth token")
            limit = self.faults.token_max_calls
            if limit is not None and token.calls >= limit:
                return error(401, self.faults.auth_error_code, "invalid oauth token")
            token.calls += 1
        return None

    def _api_module(self, name: str) -> str:
        if name not in MODULES:
            raise BadRequest(
                error(
                    400,
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"resource_path_index": 0},
                )
            )
        return name

    # --- admin -------------------------------------------------------------------------------
    def _admin_router(self) -> AdminRouter:
        return AdminRouter(
            routes={
                ("POST", "/__admin/faults"): self._admin_set_faults,
                ("GET", "/__admin/faults"): lambda _: self.faults.as_dict(),
                ("GET", "/__admin/stats"): self._admin_stats,
                ("POST", "/__admin/simulate"): lambda p: self.simulate(p.pop("module", "Deals"), **p),
                ("POST", "/__admin/reset"): self._admin_reset,
            },
            unmatched=lambda method, path: json_answer(404, {"error": f"no admin endpoint {method} {path}"}),
            bad_json="body must be JSON",
        )

    def _admin_set_faults(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.faults.update(payload)
            return self.faults.as_dict()

    def _admin_stats(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._counts),
                "tokens_issued": self.tokens_issued,
                "page_token_requests": self.page_token_requests,
                "max_in_flight": self.max_in_flight,
                "max_sub_in_flight": self.max_sub_in_flight,
                "concurrency_rejections": self.concurrency_rejections,
                "credits_used_24h": len(self._credits),
                "records": {m: len(r) for m, r in self._rows.items()},
                "deleted": {m: len(d) for m, d in self._deleted.items()},
            }

    def _admin_reset(self, _: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        return {"ok": True}


Dispatch = Callable[[str, str, dict[str, str], Any, bytes], Reply]


def _by_parts(dispatch: Dispatch) -> Callable[[Request], Reply]:
    """A dispatcher of (method, path, query, headers, body), as the HTTP layer calls it."""
    return lambda r: dispatch(r.method, r.path, r.query, r.headers, r.body)


class _ZohoHandler(SandboxHandler):
    """Zoho's persona on the wire: its Server header, extra headers first, a 500 JSON envelope for
    a sandbox bug, and a reset that starts a 200 answer and aborts it mid-body."""

    server_version = "ZohoSandbox/1.0"
    do_PUT = do_DELETE = SandboxHandler._serve

    def internal_error(self, request: Request) -> Reply:
        log.exception("zoho sandbox: unhandled error on %s %s", request.method, request.path)
        return error(500, "INTERNAL_ERROR", "Internal Server Error")

    def send_reset(self, reply: Reply) -> None:
        """Start a response, then abort the socket with RST (SO_LINGER 0): a reset mid-body."""
        self.wfile.write(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"data": ['
        )
        abort_connection(self)


__all__ = ["ZohoFaults", "ZohoSandbox", "zoho_id"]
