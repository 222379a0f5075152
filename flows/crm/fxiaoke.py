"""Fxiaoke (纷享销客) connector: employees, departments and CRM objects as RawRecords.

Objects: employees and departments (full lists), and, incrementally, PersonnelObj, AccountObj,
ContactObj, LeadsObj, OpportunityObj, SalesOrderObj, InvoiceApplicationObj and PaymentObj from
``/cgi/crm/v2/data/query``; opportunity stage changes from the CRM log
(``/cgi/crm/crmLog/query``, incremental by ``operateTime``: Fxiaoke has no stage-history
endpoint); and any configured custom objects (``object_xxx__c``) from
``/cgi/crm/custom/v2/data/query``, landed as ``custom_<api name>``.

Auth (crm_apis §2.2), either mode: ``legacy`` puts ``corpAccessToken`` + ``corpId`` +
``currentOpenUserId`` in every JSON body; ``oauth2`` gets a token from ``/oauth2.0/token``
(``grantType: app_secret``) and sends ``authorization: Bearer``, ``x-fs-ea`` and ``x-fs-userid``
headers. The token is reused until 6600 s after issue (the server hands out the same token until
then) and refreshed once, with a replay, on ``20016``.

Incremental objects are read with ``last_modified_time BETWEEN [cursor - overlap, now]``,
ordered by ``last_modified_time, _id`` ascending. Paging is **keyset, not plain offset**: every
page restarts at ``offset 0`` from the last ``last_modified_time`` seen. Plain offset paging under
a modified-time order skips rows when a row on an earlier page is modified mid-run (it leaves the
window and everything behind it shifts up by one; crm_apis §4.2.5). Keyset paging is immune,
except inside a single instant shared by more than a page of rows: that instant is paged by
offset ordered by ``_id`` and re-scanned if its ``total`` shrank meanwhile (rows can only leave a
past instant, never join it). Paging stops on a short page; ``total`` is never trusted for that.

Deletes: rows with ``life_status == "invalid"`` (作废) or ``is_deleted`` are yielded as deleted
RawRecords (``deleted_at = last_modified_time``). Permanently deleted rows vanish from the API;
they are found on a full refresh when the connector is given ``known_ids`` (the ids stored live
in the warehouse): ids the complete scan did not return are looked up by ``_id`` (so a row
modified during the scan is landed, not deleted) and the ones still missing are yielded as
tombstones (``deleted_at`` = the scan's upper bound). A cancelled sales order is NOT a delete:
it stays a live record with ``order_status`` ``cancelled`` and ``field_cancelled_time__c``.

Errors: ``30002`` (daily quota) fails the object at once with the reset time (00:00
Asia/Shanghai), never retried; rate limits, service errors, 5xx, HTML, timeouts and connection
resets are retried with bounded backoff (:mod:`flows.crm.fxiaoke_http`).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from pydantic import SecretStr

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.fxiaoke_http import TOKEN_INVALID_CODE, FxiaokeCallError, FxiaokeTransport, RetryPolicy
from flows.warehouse.database import RawRecord

if TYPE_CHECKING:
    from flows.config.settings import Settings

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROOT_DEPARTMENT_ID = 999999

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
OAUTH_TOKEN_PATH = "/oauth2.0/token"
USER_LIST_PATH = "/cgi/user/list"
DEPARTMENT_LIST_PATH = "/cgi/department/list"
QUERY_PATH = "/cgi/crm/v2/data/query"
CUSTOM_QUERY_PATH = "/cgi/crm/custom/v2/data/query"
CRM_LOG_PATH = "/cgi/crm/crmLog/query"
DAILY_QUOTA_CODE = 30002  # daily OpenAPI quota used up; resets at 00:00 Asia/Shanghai
NO_QUOTA_CODE = 30003  # no OpenAPI quota purchased
AUTH_MODES = ("legacy", "oauth2")

#: connector object -> data/query API name (preset objects, incremental by last_modified_time)
QUERY_OBJECTS = {
    "personnel": "PersonnelObj",
    "accounts": "AccountObj",
    "contacts": "ContactObj",
    "leads": "LeadsObj",
    "opportunities": "OpportunityObj",
    "sales_orders": "SalesOrderObj",
    "invoices": "InvoiceApplicationObj",
    "payments": "PaymentObj",
}
#: objects read from the CRM log (no data/query object; incremental by operateTime)
LOG_OBJECTS = {"opportunity_stage_changes": ("OpportunityObj", "sales_stage")}
#: connector objects in load order (custom objects, when configured, follow as custom_<api name>)
OBJECTS = (
    "employees",
    "departments",
    "personnel",
    "accounts",
    "contacts",
    "leads",
    "opportunities",
    "opportunity_stage_changes",
    "sales_orders",
    "invoices",
    "payments",
)
CUSTOM_PREFIX = "custom_"
_CUSTOM_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*__c")
MAX_PAGE_SIZE = 100
#: ``known_ids(obj)``: ids of the rows stored live (not deleted) for ``obj`` (see the connector)
KnownIds = Callable[[str], Iterable[str]]
TOKEN_REFRESH_AFTER = timedelta(seconds=6600)  # same token reissued until then; expires at 7200 s
_INSTANT_RESCANS = 3


# --- value helpers (used by tests, staging checks and anything reading raw Fxiaoke JSON) -----------------


def ms_to_datetime(ms: int | str) -> datetime:
    """Epoch ms -> aware UTC datetime, with integer arithmetic (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=int(ms))


def datetime_to_ms(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}")
    return (ts - _EPOCH) // timedelta(milliseconds=1)


def fxiaoke_date(ms: int | str | None) -> date | None:
    """A Fxiaoke date field (ms at local midnight UTC+8) as the calendar date it means.

    Converting in UTC would shift every date one day back: 1585929600000 is 2020-04-03T16:00Z,
    but the CRM user picked 2020-04-04.
    """
    if ms is None or ms == "":
        return None
    return ms_to_datetime(ms).astimezone(SHANGHAI).date()


def fxiaoke_decimal(value: Any) -> Decimal | None:
    """Amounts and probabilities (strings such as ``"100000.00"``) as exact decimals, never floats."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that round-trips, not the binary expansion
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _secret(value: str | SecretStr | None) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


@dataclass(frozen=True)
class _Spec:
    """How one incremental object is read."""

    api_name: str
    path: str  # QUERY_PATH, CUSTOM_QUERY_PATH or CRM_LOG_PATH
    time_field: str  # last_modified_time, or operateTime for CRM log entries
    field_api_name: str | None = None  # CRM log: the field whose changes are read

    @property
    def is_log(self) -> bool:
        return self.path == CRM_LOG_PATH


class FxiaokeConnector:
    """Reads Fxiaoke over its OpenAPI; implements :class:`flows.crm.base.CrmConnector`.

    ``auth_mode``: ``"legacy"`` (corpAccessToken in every body) or ``"oauth2"`` (client
    credentials from ``/oauth2.0/token``; ``authorization: Bearer``, ``x-fs-ea`` and
    ``x-fs-userid`` headers). ``custom_objects``: API names of custom objects
    (``object_xxx__c``), read from the custom endpoint and landed as ``custom_<api name>``.
    ``known_ids``: optional ``known_ids(obj) -> set of ids`` stored live in the warehouse; on a
    full refresh, ids it returns that the API no longer has are yielded as deleted (tombstones).
    """

    source = "fxiaoke"
    objects: tuple[str, ...] = OBJECTS

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str | SecretStr,
        app_secret: str | SecretStr,
        permanent_code: str | SecretStr,
        open_user_id: str,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 60.0,
        rate_limit_backoff: float = 5.0,
        overlap: timedelta = timedelta(minutes=10),
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        auth_mode: str = "legacy",
        custom_objects: Iterable[str] = (),
        known_ids: KnownIds | None = None,
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if auth_mode not in AUTH_MODES:
            raise CrmError(f"fxiaoke: auth mode {auth_mode!r} is not one of {', '.join(AUTH_MODES)}")
        self.auth_mode = auth_mode
        self.known_ids = known_ids
        self._specs: dict[str, _Spec] = {
            obj: _Spec(api, QUERY_PATH, "last_modified_time") for obj, api in QUERY_OBJECTS.items()
        }
        for obj, (api, field_name) in LOG_OBJECTS.items():
            self._specs[obj] = _Spec(api, CRM_LOG_PATH, "operateTime", field_name)
        custom: list[str] = []
        for api in custom_objects:
            api = api.strip()
            if not _CUSTOM_API_NAME.fullmatch(api):
                raise CrmError(f"fxiaoke: {api!r} is not a custom object API name (object_xxx__c)")
            obj = CUSTOM_PREFIX + api.lower()
            if obj not in self._specs:
                self._specs[obj] = _Spec(api, CUSTOM_QUERY_PATH, "last_modified_time")
                custom.append(obj)
        self.objects = OBJECTS + tuple(custom)
        self._app_id, self._app_secret = _secret(app_id), _secret(app_secret)
        self._permanent_code = _secret(permanent_code)
        if not (self._app_id and self._app_secret and self._permanent_code and open_user_id):
            raise CrmError("fxiaoke: app id, app secret, permanent code and open user id are all required")
        self.open_user_id = open_user_id
        self.overlap = overlap
        self.page_size = page_size
        self._clock = clock or (lambda: datetime.now(UTC))
        self._stats: dict[str, CallStats] = {}
        self._token: str | None = None
        self._corp_id: str | None = None  # legacy: corpId; oauth2: ea
        self._token_refresh_at: datetime | None = None
        self._seen_tokens: set[str] = set()
        self._fetched_once = False
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff,
            backoff_max=backoff_max,
            rate_limit_backoff=rate_limit_backoff,
        )
        self._http = FxiaokeTransport(
            base_url,
            timeout=timeout,
            policy=policy,
            sleep=sleep,
            redact=self._redact,
            session=session,
            rng=rng,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> FxiaokeConnector:
        """Build from ``SALESOPS_FXIAOKE_*`` / ``SALESOPS_HTTP_*``; missing credentials fail clearly.

        Each secret comes from its env var, or else from the Prefect Secret block named by
        ``SALESOPS_FXIAOKE_<NAME>_BLOCK``.
        """
        from flows.crm.secrets import resolve_credentials

        secrets, missing = resolve_credentials(
            settings, ("fxiaoke_app_id", "fxiaoke_app_secret", "fxiaoke_permanent_code")
        )
        missing += [] if settings.fxiaoke_open_user_id else ["fxiaoke_open_user_id"]
        if missing:
            env = ", ".join(f"SALESOPS_{n.upper()}" for n in missing)
            raise CrmError(f"fxiaoke: not configured, set {env}")
        kwargs: dict[str, Any] = {
            "base_url": settings.fxiaoke_base_url,
            "app_id": secrets["fxiaoke_app_id"],
            "app_secret": secrets["fxiaoke_app_secret"],
            "permanent_code": secrets["fxiaoke_permanent_code"],
            "open_user_id": settings.fxiaoke_open_user_id,
            "timeout": settings.http_timeout_seconds,
            "max_retries": settings.http_max_retries,
            "backoff": settings.http_backoff_base_seconds,
            "backoff_max": settings.http_backoff_max_seconds,
            "auth_mode": getattr(settings, "fxiaoke_auth_mode", "legacy"),
            "custom_objects": _split_names(getattr(settings, "fxiaoke_custom_objects", "") or ""),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- protocol ---------------------------------------------------------------------------------

    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        """Pages of ``obj``. Employees and departments: the full list, one page, no cursor.
        Every other object: changes since ``cursors[obj]`` (epoch ms as a string; for stage
        changes the log's ``operateTime``). On a full refresh with a ``known_ids`` hook, a last
        page carries tombstones for stored ids the API no longer returns."""
        if obj not in self.objects:
            raise CrmError(f"fxiaoke: unknown object {obj!r} (known: {', '.join(self.objects)})")
        self._stats.setdefault(obj, CallStats())
        if obj == "employees":
            yield self._employees()
        elif obj == "departments":
            yield self._departments()
        else:
            cursor = None if full_refresh else cursors.get(obj)
            yield from self._incremental(obj, cursor, full_refresh=full_refresh)

    def stats(self, obj: str) -> CallStats:
        return self._stats.setdefault(obj, CallStats())

    def cursor_names(self, obj: str) -> tuple[str, ...]:
        """Employees and departments are read whole (no cursor); every other object has one."""
        return () if obj in ("employees", "departments") else (obj,)

    def cursor_value(self, since: datetime) -> str:
        """Cursors are epoch milliseconds (as a string)."""
        return str(datetime_to_ms(since))

    def close(self) -> None:
        self._http.session.close()

    # --- employees and departments -------------------------------------------------------------------

    def _employees(self) -> Page:
        body = {"departmentId": ROOT_DEPARTMENT_ID, "fetchChild": True, "showDepartmentIdsDetail": True}
        payload = self._call("employees", USER_LIST_PATH, lambda auth: {**auth, **body})
        records = [
            RawRecord(id=str(emp["openUserId"]), record=emp, modified_at=_ms_or_none(emp.get("updateTime")))
            for emp in self._list(payload, "empList", "employees")
        ]
        return Page(records)

    def _departments(self) -> Page:
        payload = self._call("departments", DEPARTMENT_LIST_PATH, lambda auth: dict(auth))
        records = [
            RawRecord(id=str(dep["departmentId"]), record=dep, modified_at=_ms_or_none(dep.get("updateTime")))
            for dep in self._list(payload, "departments", "departments")
        ]
        return Page(records)

    @staticmethod
    def _list(payload: dict, key: str, obj: str) -> list[dict]:
        rows = payload.get(key)
        if not isinstance(rows, list):
            raise CrmError(f"fxiaoke {obj}: answer has no {key!r} list (traceId {payload.get('traceId')})")
        return rows

    # --- incremental objects -----------------------------------------------------------------------------

    def _incremental(self, obj: str, cursor: str | None, *, full_refresh: bool = False) -> Iterator[Page]:
        spec = self._specs[obj]
        lo = 0
        if cursor:
            try:
                lo = max(0, int(cursor) - self.overlap // timedelta(milliseconds=1))
            except ValueError:
                raise CrmError(f"fxiaoke {obj}: stored cursor {cursor!r} is not epoch milliseconds") from None
        hi = datetime_to_ms(self._clock())
        high_water = int(cursor) if cursor else None
        reconcile = full_refresh and self.known_ids is not None and not spec.is_log
        seen: set[str] = set()
        for rows in self._keyset_pages(obj, spec, lo, hi):
            records = [self._raw(obj, spec, row) for row in rows]
            if reconcile:
                seen.update(r.id for r in records)
            page_max = max(_row_time(obj, spec, row) for row in rows)
            high_water = page_max if high_water is None else max(high_water, page_max)
            yield Page(records, cursor=(obj, str(high_water)))
        if reconcile:
            yield from self._tombstones(obj, spec, seen, hi)

    def _tombstones(self, obj: str, spec: _Spec, seen: set[str], hi: int) -> Iterator[Page]:
        """Stored ids a complete scan did not return: confirm each is gone, then mark it deleted.

        A stored row can be missing from the scan only because it was modified after ``hi`` (it
        left the window) or because it was permanently deleted (or invalidated while data/query
        hides invalid rows). An ``_id IN`` lookup without a time filter tells the two apart, so
        a row edited during the run is never tombstoned: it is landed as a live row instead.
        """
        assert self.known_ids is not None
        candidates = sorted({str(i) for i in self.known_ids(obj)} - seen)
        if not candidates:
            return
        deleted_at = ms_to_datetime(hi)
        stats = self.stats(obj)
        for start in range(0, len(candidates), self.page_size):
            batch = candidates[start : start + self.page_size]
            flt = {"field_name": "_id", "field_values": batch, "operator": "IN"}
            rows = self._query(obj, spec, [flt], _ORDER_ID, offset=0, with_total=False)[0]
            alive = [r for r in rows if str(r["_id"]) in set(batch)]
            gone = set(batch) - {str(r["_id"]) for r in alive}
            records = [self._raw(obj, spec, row) for row in alive]
            records += [
                RawRecord(
                    id=rid,
                    record={"_id": rid, "_salesops_tombstone": "not returned by the API on a full refresh"},
                    modified_at=deleted_at,
                    deleted_at=deleted_at,
                )
                for rid in sorted(gone)
            ]
            stats.extra["tombstones"] = stats.extra.get("tombstones", 0) + len(gone)
            if records:
                yield Page(records)
        log.info(
            "fxiaoke %s: full refresh marked %d vanished row(s) deleted",
            obj,
            stats.extra.get("tombstones", 0),
        )

    def _keyset_pages(self, obj: str, spec: _Spec, lo: int, hi: int) -> Iterator[list[dict]]:
        """Rows with ``lo <= time <= hi``, each exactly once, in time order (time: ``spec.time_field``)."""
        lower, seen_at_lower = lo, set[str]()
        order = _order_keyset(spec.time_field)
        while lower <= hi:
            rows = self._query(
                obj, spec, [_between(spec.time_field, lower, hi)], order, offset=0, with_total=False
            )[0]
            times = [_row_time(obj, spec, r) for r in rows]
            if times != sorted(times):
                raise CrmError(f"fxiaoke {obj}: the API ignored the {spec.time_field} order")
            fresh = [
                r for r, t in zip(rows, times, strict=True) if not (t == lower and r["_id"] in seen_at_lower)
            ]
            if fresh:
                yield fresh
            if len(rows) < self.page_size:
                return
            last = times[-1]
            ids_at_last = {r["_id"] for r, t in zip(rows, times, strict=True) if t == last}
            if last != lower:
                lower, seen_at_lower = last, ids_at_last
                continue
            # A full page inside one instant: offset-page that instant, then move past it.
            yield from self._instant_pages(obj, spec, lower, seen_at_lower | ids_at_last)
            lower, seen_at_lower = lower + 1, set()

    def _instant_pages(self, obj: str, spec: _Spec, instant: int, seen: set[str]) -> Iterator[list[dict]]:
        for _ in range(_INSTANT_RESCANS):
            offset, totals = 0, []
            while True:
                rows, total = self._query(
                    obj,
                    spec,
                    [_between(spec.time_field, instant, instant)],
                    _ORDER_ID,
                    offset=offset,
                    with_total=True,
                )
                totals.append(total)
                fresh = [r for r in rows if r["_id"] not in seen]
                seen.update(r["_id"] for r in fresh)
                if fresh:
                    yield fresh
                if len(rows) < self.page_size:
                    break
                offset += self.page_size
            if None in totals or totals[0] == totals[-1]:
                return  # nothing left the instant while we paged it: the scan was consistent
            log.info(
                "fxiaoke %s: rows left instant %d while paging it (%s -> %s); rescanning",
                obj,
                instant,
                totals[0],
                totals[-1],
            )
        log.warning("fxiaoke %s: instant %d kept changing; relying on the next run's overlap", obj, instant)

    def _query(
        self, obj: str, spec: _Spec, filters: list[dict], orders: list[dict], *, offset: int, with_total: bool
    ) -> tuple[list[dict], int | None]:
        search = {"limit": self.page_size, "offset": offset, "filters": filters, "orders": orders}
        if spec.is_log:
            data: dict[str, Any] = {"apiName": spec.api_name, "search_query_info": search}
            if spec.field_api_name:
                data["fieldApiName"] = spec.field_api_name
        else:
            data = {
                "dataObjectApiName": spec.api_name,
                "find_explicit_total_num": with_total,
                "search_query_info": search,
            }
        payload = self._call(
            obj, spec.path, lambda auth: {**auth, "currentOpenUserId": self.open_user_id, "data": data}
        )
        result = payload.get("data")
        rows = result.get("dataList") if isinstance(result, dict) else None
        if not isinstance(rows, list):
            raise CrmError(
                f"fxiaoke {obj}: {spec.path} answer has no data.dataList (traceId {payload.get('traceId')})"
            )
        for row in rows:
            if not isinstance(row, dict) or not row.get("_id"):
                raise CrmError(f"fxiaoke {obj}: {spec.path} returned a row without _id")
        total = result.get("total")
        return rows, total if isinstance(total, int) else None

    def _raw(self, obj: str, spec: _Spec, row: dict) -> RawRecord:
        modified = ms_to_datetime(_row_time(obj, spec, row))
        deleted = row.get("life_status") == "invalid" or row.get("is_deleted") is True
        return RawRecord(
            id=str(row["_id"]), record=row, modified_at=modified, deleted_at=modified if deleted else None
        )

    # --- auth and calls ------------------------------------------------------------------------------

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
        """Body fields and headers that authenticate one call, in the configured mode."""
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


_ORDER_ID = [{"fieldName": "_id", "isAsc": True}]


def _order_keyset(time_field: str) -> list[dict]:
    return [{"fieldName": time_field, "isAsc": True}, {"fieldName": "_id", "isAsc": True}]


def _between(time_field: str, lo: int, hi: int) -> dict:
    return {"field_name": time_field, "field_values": [lo, hi], "operator": "BETWEEN"}


def _row_time(obj: str, spec: _Spec, row: dict) -> int:
    value = row.get(spec.time_field)
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CrmError(f"fxiaoke {obj}: row {row.get('_id')} has no usable {spec.time_field}") from None


def _split_names(value: str | Iterable[str]) -> list[str]:
    """``"object_a__c, object_b__c"`` (or a list) -> names, blanks dropped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v and v.strip()]


def _ms_or_none(value: Any) -> datetime | None:
    try:
        return ms_to_datetime(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
