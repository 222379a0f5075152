"""A local Fxiaoke (纷享销客) OpenAPI server that serves a :class:`Company` over real HTTP.

Why a real server: the connector is tested the way it runs in production, through ``requests``,
JSON bodies and the gateway's quirks (business errors as HTTP 200 with ``errorCode != 0``, a
token reissued unchanged for 6600 s, ``limit`` capped at 100, rows moving between offset pages,
invalidated rows staying visible). Every fault is a field of :class:`FxiaokeFaults`, flipped per
test through ``sandbox.faults`` or ``POST /__admin/faults``; the clock is injectable. The served
objects, both auth modes and every switch are described in docs/sandbox.md ("Fxiaoke").
"""

from __future__ import annotations

import copy
import json
import threading
import time as _time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flows.gc_pause import collector_paused
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.auth import Auth
from flows.sandbox.fxiaoke.encoding.company import encode_company
from flows.sandbox.fxiaoke.faults import FxiaokeFaults
from flows.sandbox.fxiaoke.protocol import (
    CONTENT_TYPE,
    GATEWAY_HTML,
    REDIRECT_HTML,
    ApiError,
    State,
    api_name,
    error_body,
    fx_json,
)
from flows.sandbox.fxiaoke.query import QueryEndpoints
from flows.sandbox.fxiaoke.simulation import Simulation
from flows.sandbox.fxiaoke.wire import (
    CHINA_TZ,
    CRM_LOG_PATH,
    CUSTOM_QUERY_PATH,
    DEPARTMENT_LIST_PATH,
    OAUTH_TOKEN_PATH,
    QUERY_PATH,
    TOKEN_PATH,
    USER_LIST_PATH,
)
from flows.sandbox.httpd import AdminRouter, BackgroundServer, Reply, Request, SandboxHandler


class FxiaokeSandbox(Auth, QueryEndpoints, Simulation):
    """The Fxiaoke OpenAPI on ``base_url``, backed by a :class:`Company`."""

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
        with collector_paused():  # the id lookups of every record: flows/gc_pause.py
            self._state = State(data=encode_company(self._company))
        self._headers: Mapping[str, str] = {}  # headers of the call being dispatched (under the lock)
        self._in_flight = 0
        self._host, self._port = host, port
        self._server: BackgroundServer | None = None
        self._admin = AdminRouter(
            routes={
                ("GET", "/__admin/stats"): self._admin_stats,
                ("POST", "/__admin/faults"): self._admin_set_faults,
                ("POST", "/__admin/simulate"): lambda p: self.simulate(p.pop("obj"), **p),
                ("POST", "/__admin/reset"): self._admin_reset,
            },
            unmatched=_admin_unmatched,
            bad_json="body is not JSON",
            reply=fx_json,
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is None:
            self._server = BackgroundServer(
                self._host, self._port, _FxiaokeHandler, self._serve_request, "fxiaoke-sandbox"
            )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FxiaokeSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.address
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
            return copy.deepcopy(list(self._state.data.objects[api_name(obj)].values()))

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
            self._state = State(data=encode_company(self._company))

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
        return self._simulate(obj, create, update, invalidate, delete, advance_stage)

    # --- request handling (called by the HTTP handler thread) ---------------------------------------------

    def _handle(self, method: str, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") or "/"
        if path.startswith("/__admin/"):
            return self._admin.handle(method, path, body)
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        with self._lock:
            self._in_flight += 1
            self._state.max_in_flight = max(self._state.max_in_flight, self._in_flight)
        try:
            return self._handle_api(method, parts.query, path, body, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _handle_api(self, method: str, query: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
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
                resp = self._dispatch(method, path, parse_qs(query), body, headers)
            except ApiError as err:
                resp = fx_json(200, error_body(err.code, err.message))
            resp.reset = reset
            return resp

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        st, faults = self._state, self._state.faults
        headers = headers or {}
        trace_id = (query.get("thirdTraceId") or [""])[0]
        reused = bool(trace_id) and trace_id in st.trace_ids
        st.trace_ids.append(trace_id)
        if faults.wrong_host or headers.get("host", "").startswith("www."):
            # crm_apis §2.1: www.fxiaoke.com/cgi/... is the website, not the API gateway.
            location = f"https://www.fxiaoke.com/XV/Home/Index?from={path}"
            return Reply(302, REDIRECT_HTML.encode(), "text/html", {"Location": location})
        if faults.gateway_error_calls > 0:
            faults.gateway_error_calls -= 1
            code = faults.gateway_error_status
            reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}.get(
                code, "Error"
            )
            html = GATEWAY_HTML.format(code=code, reason=reason).encode()
            return Reply(code, html, "text/html")
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
            return Reply(404, b'{"status":404,"error":"Not Found"}', CONTENT_TYPE)
        if method != "POST":
            return Reply(405, b'{"status":405,"error":"Method Not Allowed"}', CONTENT_TYPE)
        if faults.require_trace_id and not trace_id:
            raise ApiError(10001, "thirdTraceId为必填项，不能为空")
        if faults.reject_reused_trace_id and reused:
            raise ApiError(10001, "thirdTraceId重复")
        self._rate_limit(path)
        self._daily_quota()
        if faults.service_error_calls > 0:
            faults.service_error_calls -= 1
            code = faults.service_error_code
            raise ApiError(code, {50009: "服务超时", -1: "系统繁忙", -2: "系统错误"}.get(code, "系统错误"))
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(10001, "请求参数不是合法的JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(10001, "请求参数不是合法的JSON")
        self._headers = headers
        try:
            return fx_json(200, handlers[path](payload))
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
            raise ApiError(30002, "今日接口调用次数已超过限制")
        st.quota_used += 1

    def _rate_limit(self, path: str) -> None:
        faults = self._state.faults
        if faults.rate_limited_calls > 0:
            faults.rate_limited_calls -= 1
            self._state.throttled += 1
            raise ApiError(14001, "接口调用超过限制")
        if faults.rate_limit_per_window is None:
            return
        now = self._clock().timestamp()
        window = self._state.windows.setdefault(path, deque())
        while window and window[0] <= now - faults.rate_limit_window_seconds:
            window.popleft()
        if len(window) >= faults.rate_limit_per_window:
            self._state.throttled += 1
            raise ApiError(14001, "接口调用超过限制")
        window.append(now)

    # --- endpoints -------------------------------------------------------------------------------------

    # --- admin surface ----------------------------------------------------------------------------------

    def _admin_stats(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._state.counts),
                "trace_ids": len(self._state.trace_ids),
                "tokens_issued": len(self._state.tokens),
                "throttled": self._state.throttled,
                "max_in_flight": self._state.max_in_flight,
                "faults": asdict(self._state.faults),
            }

    def _admin_set_faults(self, payload: dict[str, Any]) -> dict[str, Any]:
        unknown = set(payload) - {f.name for f in fields(FxiaokeFaults)}
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        with self._lock:
            for name, value in payload.items():
                setattr(self._state.faults, name, value)
            return asdict(self._state.faults)

    def _admin_reset(self, _: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        return {"reset": True}

    def _serve_request(self, request: Request) -> Reply:
        return self._handle(request.method, request.target, request.body, dict(request.headers.items()))


def _admin_unmatched(method: str, path: str) -> Reply:
    if method != "POST":
        return fx_json(405, {"error": "method not allowed"})
    return fx_json(404, {"error": "unknown admin path"})


class _FxiaokeHandler(SandboxHandler):
    """The gateway's persona on the wire: ``Server: nginx``, extra headers after the content ones."""

    server_version = "nginx"
    sys_version = ""
    extra_headers_first = False
