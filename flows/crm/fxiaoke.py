"""Fxiaoke (纷享销客) connector: employees, departments, accounts and opportunities as RawRecords.

Auth is the legacy body mode (crm_apis §2.2): ``corpAccessToken`` + ``corpId`` +
``currentOpenUserId`` in every JSON body. The token is reused until 6600 s after issue (the
server hands out the same token until then) and refreshed once, with a replay, on ``20016``.

Incremental objects are read with ``last_modified_time BETWEEN [cursor - overlap, now]``,
ordered by ``last_modified_time, _id`` ascending. Paging is **keyset, not plain offset**: every
page restarts at ``offset 0`` from the last ``last_modified_time`` seen. Plain offset paging under
a modified-time order skips rows when a row on an earlier page is modified mid-run (it leaves the
window and everything behind it shifts up by one; crm_apis §4.2.5). Keyset paging is immune,
except inside a single instant shared by more than a page of rows: that instant is paged by
offset ordered by ``_id`` and re-scanned if its ``total`` shrank meanwhile (rows can only leave a
past instant, never join it). Paging stops on a short page; ``total`` is never trusted for that.

Deletes: rows with ``life_status == "invalid"`` (作废) or ``is_deleted`` are yielded as deleted
RawRecords (``deleted_at = last_modified_time``). Permanently deleted rows vanish from the API
and are NOT detected here: that needs the set of stored ids, which a connector does not have.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.fxiaoke_http import TOKEN_INVALID_CODE, FxiaokeCallError, FxiaokeTransport, RetryPolicy
from flows.warehouse import RawRecord

if TYPE_CHECKING:
    from pydantic import SecretStr

    from flows.settings import Settings

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROOT_DEPARTMENT_ID = 999999

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
USER_LIST_PATH = "/cgi/user/list"
DEPARTMENT_LIST_PATH = "/cgi/department/list"
QUERY_PATH = "/cgi/crm/v2/data/query"

#: connector object -> data/query API name (incremental objects only)
QUERY_OBJECTS = {"accounts": "AccountObj", "opportunities": "OpportunityObj"}
MAX_PAGE_SIZE = 100
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


class FxiaokeConnector:
    """Reads Fxiaoke over its OpenAPI; implements :class:`flows.crm.base.CrmConnector`."""

    source = "fxiaoke"
    objects = ("employees", "departments", "accounts", "opportunities")

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
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
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
        self._corp_id: str | None = None
        self._token_refresh_at: datetime | None = None
        self._seen_tokens: set[str] = set()
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
        """Build from ``SALESOPS_FXIAOKE_*`` / ``SALESOPS_HTTP_*``; missing credentials fail clearly."""
        missing = [
            name
            for name in (
                "fxiaoke_app_id",
                "fxiaoke_app_secret",
                "fxiaoke_permanent_code",
                "fxiaoke_open_user_id",
            )
            if not getattr(settings, name)
        ]
        if missing:
            env = ", ".join(f"SALESOPS_{n.upper()}" for n in missing)
            raise CrmError(f"fxiaoke: not configured, set {env}")
        kwargs: dict[str, Any] = {
            "base_url": settings.fxiaoke_base_url,
            "app_id": settings.fxiaoke_app_id,
            "app_secret": settings.fxiaoke_app_secret,
            "permanent_code": settings.fxiaoke_permanent_code,
            "open_user_id": settings.fxiaoke_open_user_id,
            "timeout": settings.http_timeout_seconds,
            "max_retries": settings.http_max_retries,
            "backoff": settings.http_backoff_base_seconds,
            "backoff_max": settings.http_backoff_max_seconds,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- protocol ---------------------------------------------------------------------------------

    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        """Pages of ``obj``. Employees and departments: the full list, one page, no cursor.
        Accounts and opportunities: changes since ``cursors[obj]`` (epoch ms as a string)."""
        if obj not in self.objects:
            raise CrmError(f"fxiaoke: unknown object {obj!r} (known: {', '.join(self.objects)})")
        self._stats.setdefault(obj, CallStats())
        if obj == "employees":
            yield self._employees()
        elif obj == "departments":
            yield self._departments()
        else:
            cursor = None if full_refresh else cursors.get(obj)
            yield from self._incremental(obj, cursor)

    def stats(self, obj: str) -> CallStats:
        return self._stats.setdefault(obj, CallStats())

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

    def _incremental(self, obj: str, cursor: str | None) -> Iterator[Page]:
        lo = 0
        if cursor:
            try:
                lo = max(0, int(cursor) - self.overlap // timedelta(milliseconds=1))
            except ValueError:
                raise CrmError(f"fxiaoke {obj}: stored cursor {cursor!r} is not epoch milliseconds") from None
        hi = datetime_to_ms(self._clock())
        high_water = int(cursor) if cursor else None
        for rows in self._keyset_pages(obj, lo, hi):
            records = [self._raw(obj, row) for row in rows]
            page_max = max(_lmt(obj, row) for row in rows)
            high_water = page_max if high_water is None else max(high_water, page_max)
            yield Page(records, cursor=(obj, str(high_water)))

    def _keyset_pages(self, obj: str, lo: int, hi: int) -> Iterator[list[dict]]:
        """Rows with ``lo <= last_modified_time <= hi``, each exactly once, in modified order."""
        lower, seen_at_lower = lo, set[str]()
        while lower <= hi:
            rows = self._query(obj, [_between(lower, hi)], _ORDER_KEYSET, offset=0, with_total=False)[0]
            times = [_lmt(obj, r) for r in rows]
            if times != sorted(times):
                raise CrmError(f"fxiaoke {obj}: data/query ignored the last_modified_time order")
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
            yield from self._instant_pages(obj, lower, seen_at_lower | ids_at_last)
            lower, seen_at_lower = lower + 1, set()

    def _instant_pages(self, obj: str, instant: int, seen: set[str]) -> Iterator[list[dict]]:
        for _ in range(_INSTANT_RESCANS):
            offset, totals = 0, []
            while True:
                rows, total = self._query(
                    obj, [_between(instant, instant)], _ORDER_ID, offset=offset, with_total=True
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
        self, obj: str, filters: list[dict], orders: list[dict], *, offset: int, with_total: bool
    ) -> tuple[list[dict], int | None]:
        data = {
            "dataObjectApiName": QUERY_OBJECTS[obj],
            "find_explicit_total_num": with_total,
            "search_query_info": {
                "limit": self.page_size,
                "offset": offset,
                "filters": filters,
                "orders": orders,
            },
        }
        payload = self._call(
            obj, QUERY_PATH, lambda auth: {**auth, "currentOpenUserId": self.open_user_id, "data": data}
        )
        result = payload.get("data")
        rows = result.get("dataList") if isinstance(result, dict) else None
        if not isinstance(rows, list):
            raise CrmError(
                f"fxiaoke {obj}: data/query answer has no data.dataList (traceId {payload.get('traceId')})"
            )
        for row in rows:
            if not row.get("_id"):
                raise CrmError(f"fxiaoke {obj}: data/query returned a row without _id")
        total = result.get("total")
        return rows, total if isinstance(total, int) else None

    def _raw(self, obj: str, row: dict) -> RawRecord:
        modified = ms_to_datetime(_lmt(obj, row))
        deleted = row.get("life_status") == "invalid" or row.get("is_deleted") is True
        return RawRecord(
            id=str(row["_id"]), record=row, modified_at=modified, deleted_at=modified if deleted else None
        )

    # --- auth and calls ------------------------------------------------------------------------------

    def _call(self, obj: str, path: str, build: Callable[[dict], dict]) -> dict:
        """One business call; on 20016 refresh the token once and replay. Failures become CrmError."""
        stats = self.stats(obj)
        try:
            try:
                return self._http.post(path, build(self._auth(obj)), stats, label=f"fxiaoke {obj}")
            except FxiaokeCallError as err:
                if err.code != TOKEN_INVALID_CODE:
                    raise
                log.info(
                    "fxiaoke %s: token rejected (errorCode %s); refreshing once and replaying", obj, err.code
                )
                self._token = None
                return self._http.post(path, build(self._auth(obj)), stats, label=f"fxiaoke {obj}")
        except FxiaokeCallError as err:
            raise CrmError(f"fxiaoke {obj}: {err.describe()}") from None

    def _auth(self, obj: str) -> dict:
        now = self._clock()
        if self._token is None or self._token_refresh_at is None or now >= self._token_refresh_at:
            self._fetch_token(obj, now)
        return {"corpAccessToken": self._token, "corpId": self._corp_id}

    def _fetch_token(self, obj: str, now: datetime) -> None:
        stats = self.stats(obj)
        body = {"appId": self._app_id, "appSecret": self._app_secret, "permanentCode": self._permanent_code}
        payload = self._http.post(TOKEN_PATH, body, stats, label=f"fxiaoke {obj}")
        token, corp_id = payload.get("corpAccessToken"), payload.get("corpId")
        if not token or not corp_id:
            raise FxiaokeCallError(
                TOKEN_PATH, "token answer without corpAccessToken/corpId", trace_id=payload.get("traceId")
            )
        expires_in = payload.get("expiresIn")
        lifetime = timedelta(seconds=expires_in) if isinstance(expires_in, int) and expires_in > 0 else None
        # Refresh at 6600 s after issue; a reused token comes back with less than 7200 s to live.
        margin = timedelta(seconds=7200) - TOKEN_REFRESH_AFTER
        refresh_in = (lifetime - margin) if lifetime else TOKEN_REFRESH_AFTER
        if self._token is not None or self._seen_tokens:
            stats.token_refreshes += 1  # the first fetch of a run is not a refresh
        self._token, self._corp_id = token, corp_id
        self._seen_tokens.add(token)
        self._token_refresh_at = now + max(refresh_in, timedelta(0))

    def _redact(self, text: str) -> str:
        for secret in (self._app_secret, self._permanent_code, self._app_id, *self._seen_tokens):
            if secret:
                text = text.replace(secret, "***")
        return text


_ORDER_KEYSET = [{"fieldName": "last_modified_time", "isAsc": True}, {"fieldName": "_id", "isAsc": True}]
_ORDER_ID = [{"fieldName": "_id", "isAsc": True}]


def _between(lo: int, hi: int) -> dict:
    return {"field_name": "last_modified_time", "field_values": [lo, hi], "operator": "BETWEEN"}


def _lmt(obj: str, row: dict) -> int:
    value = row.get("last_modified_time")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CrmError(f"fxiaoke {obj}: row {row.get('_id')} has no usable last_modified_time") from None


def _ms_or_none(value: Any) -> datetime | None:
    try:
        return ms_to_datetime(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
