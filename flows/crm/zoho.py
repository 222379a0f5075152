"""Zoho CRM v8 connector: OAuth refresh, record paging, incremental cursors and deletes.

Design choices, each answering a known failure of existing connectors:

* **api_domain.** Tokens come from ``accounts_url``; every CRM call goes to the ``api_domain`` the
  token response names (tap-zoho-crm hard-codes the US host and breaks elsewhere).
* **Token life.** Refreshed shortly before ``expires_in`` and, on 401 ``INVALID_TOKEN`` /
  ``AUTHENTICATION_FAILURE``, exactly once before replaying the same request. A throttled
  refresh ("too many requests continuously") is waited out, not fatal.
* **Keyset paging on Modified_Time.** Records are read ``sort_by=Modified_Time&sort_order=asc``;
  after each full page the query restarts at page 1 with ``If-Modified-Since`` = the page's
  newest ``Modified_Time`` minus one second. Offset paging loses rows when a record modified
  mid-run moves to the end and shifts the rest down a slot; restarting from the newest time
  seen cannot skip anything, and makes the cursor after every page safe to commit. Only when a
  page makes no progress (>200 rows in the same second) does it page within the query, switching
  to ``page_token`` past record 2000. The re-read boundary rows are deduplicated by the
  warehouse upsert (latest version wins).
* **Cursor overlap.** A stored cursor is re-read from ``cursor - overlap`` (inclusive), never
  ``cursor + 1s``, so a record committed late within the cursor's second is not lost.
* **Stage history, incrementally.** ``deal_stage_history`` re-reads the *ids* of deals changed
  since its own cursor (keyset over ``Deals``, ``fields=Modified_Time``: ceil(N/200) calls) and
  fetches ``/Deals/{id}/Stage_History`` once per deal changed since the cursor (minus 1 s, not the
  whole overlap window), ``max_concurrency`` at a time. A
  page's history rows and the cursor covering its deals commit together, so a killed run
  re-fetches at most one page of deals. Rows land as ``<deal_id>:<history_id>``.
* **Leads.** Zoho hides converted leads unless asked: every Leads call sends ``converted=both``.
* **Rate limits.** 429 (concurrency cap or spent daily credits) is waited out on its own budget
  (``rate_limit_max_wait`` seconds of waiting, honouring ``Retry-After``, else exponential backoff
  with jitter) rather than the few retries allowed for 5xx, and the number of requests in flight
  never exceeds ``max_concurrency``.
* **No secrets anywhere.** Credentials are ``SecretStr``; every message this module produces is
  passed through :meth:`ZohoConnector._redact` as a last line of defence.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.http import RetriesExhausted, RetryPolicy, describe_response, request_with_retries
from flows.warehouse.database import RawRecord, record_hash

log = logging.getLogger(__name__)

#: object name (raw table suffix) -> Zoho module API name.
MODULES: dict[str, str] = {
    "accounts": "Accounts",
    "contacts": "Contacts",
    "deals": "Deals",
    "products": "Products",
    "leads": "Leads",
    "sales_orders": "Sales_Orders",
    "invoices": "Invoices",
    "tasks": "Tasks",
    "calls": "Calls",
    "events": "Events",
}
#: Extra query parameters per module (Zoho lists converted leads only with ``converted``).
MODULE_PARAMS: dict[str, dict[str, str]] = {"Leads": {"converted": "both"}}
#: The Deals related list read for ``deal_stage_history``.
STAGE_HISTORY_FIELDS = (
    "Stage",
    "Amount",
    "Probability",
    "Expected_Revenue",
    "Closing_Date",
    "Modified_Time",
    "Modified_By",
)
#: Fields the dbt staging models read (docs/architecture.md): requested first, whatever else the
#: org has fills the rest of the 50-field budget.
PREFERRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Deals": (
        "Deal_Name",
        "Amount",
        "Currency",
        "Exchange_Rate",
        "Stage",
        "Probability",
        "Closing_Date",
        "Pipeline",
        "Type",
        "Lead_Source",
        "Owner",
        "Account_Name",
        "Contact_Name",
        "Product_Name",
        "Created_Time",
        "Modified_Time",
    ),
    "Accounts": (
        "Account_Name",
        "Industry",
        "Annual_Revenue",
        "Employees",
        "Billing_Country",
        "Parent_Account",
        "Credit_Limit",
        "Customer_Satisfaction",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Contacts": (
        "First_Name",
        "Last_Name",
        "Full_Name",
        "Email",
        "Account_Name",
        "Date_of_Birth",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Products": (
        "Product_Name",
        "Product_Code",
        "Product_Category",
        "Product_Active",
        "Unit_Price",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Leads": (
        "First_Name",
        "Last_Name",
        "Company",
        "Email",
        "Lead_Source",
        "Lead_Status",
        "Owner",
        "Converted__s",
        "Converted_Date_Time",
        "Converted_Deal",
        "Converted_Account",
        "Converted_Contact",
        "Created_Time",
        "Modified_Time",
    ),
    "Sales_Orders": (
        "Subject",
        "SO_Number",
        "Deal_Name",
        "Account_Name",
        "Contact_Name",
        "Status",
        "Order_Date",
        "Due_Date",
        "Grand_Total",
        "Currency",
        "Exchange_Rate",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Invoices": (
        "Invoice_Number",
        "Invoice_Date",
        "Due_Date",
        "Sales_Order",
        "Account_Name",
        "Status",
        "Grand_Total",
        "Amount_Paid",
        "Last_Payment_Date",
        "Currency",
        "Exchange_Rate",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    # Activities: What_Id is polymorphic; its module comes back as the top-level `$se_module`
    # (``$`` keys are always returned, never requested).
    "Tasks": (
        "Subject",
        "Status",
        "Priority",
        "Due_Date",
        "Closed_Time",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Calls": (
        "Subject",
        "Call_Type",
        "Call_Start_Time",
        "Call_Duration",
        "Call_Duration_in_seconds",
        "Call_Result",
        "Outgoing_Call_Status",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
    "Events": (
        "Event_Title",
        "Start_DateTime",
        "End_DateTime",
        "All_day",
        "What_Id",
        "Who_Id",
        "Owner",
        "Created_Time",
        "Modified_Time",
    ),
}
MAX_FIELDS = 50
DISCRETE_LIMIT = 2000
AUTH_ERRORS = ("INVALID_TOKEN", "AUTHENTICATION_FAILURE")
#: Refresh this long before the token's stated expiry (clock skew, slow calls).
TOKEN_MARGIN_SECONDS = 60.0
#: Within a run, restart keyset queries one second before the newest time seen: safe whether the
#: server's If-Modified-Since is inclusive (as observed) or exclusive.
KEYSET_SLACK = timedelta(seconds=1)


def _secret(value: SecretStr | str | None) -> SecretStr:
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()) or value == "":
        raise ValueError("missing Zoho credential")
    return value if isinstance(value, SecretStr) else SecretStr(value)


def parse_datetime(value: Any) -> datetime | None:
    """A Zoho datetime (ISO-8601 with offset) or stored cursor as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None  # a naive time is ambiguous; refuse rather than guess the org's zone
    return ts.astimezone(UTC)


def cursor_value(ts: datetime) -> str:
    """Cursors are stored as UTC ISO strings (with an explicit ``+00:00``)."""
    return ts.astimezone(UTC).isoformat()


@dataclass
class _Token:
    """The current access token; its repr never shows the value."""

    value: SecretStr
    api_domain: str
    expires_at: float  # monotonic seconds

    def __repr__(self) -> str:
        return f"_Token(api_domain={self.api_domain!r}, value=**********)"


class ZohoConnector:
    """Reads Zoho CRM users, products, accounts, contacts, leads, deals (and their stage history),
    sales orders, invoices and activities (tasks, calls, events) into :class:`Page` objects."""

    source = "zoho"
    objects: tuple[str, ...] = (
        "users",
        "products",
        "accounts",
        "contacts",
        "leads",
        "deals",
        "deal_stage_history",
        "sales_orders",
        "invoices",
        "tasks",
        "calls",
        "events",
    )

    def __init__(
        self,
        *,
        accounts_url: str,
        client_id: SecretStr | str,
        client_secret: SecretStr | str,
        refresh_token: SecretStr | str,
        api_version: str = "v8",
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_concurrency: int = 4,
        overlap: timedelta = timedelta(minutes=5),
        per_page: int = 200,
        refresh_throttle_wait: float = 60.0,
        refresh_throttle_max_wait: float = 900.0,
        rate_limit_max_wait: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        session: requests.Session | None = None,
    ):
        self.accounts_url = accounts_url.rstrip("/")
        self._client_id = _secret(client_id)
        self._client_secret = _secret(client_secret)
        self._refresh_token = _secret(refresh_token)
        self.api_version = api_version
        self.timeout = timeout
        self.policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            rate_limit_max_wait=rate_limit_max_wait,
        )
        self.max_concurrency = max(1, max_concurrency)
        self.overlap = overlap
        self.per_page = min(200, per_page)
        self.refresh_throttle_wait = refresh_throttle_wait
        self.refresh_throttle_max_wait = refresh_throttle_max_wait
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, max_concurrency), max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency))
        self._token_lock = threading.Lock()
        self._token: _Token | None = None
        self._fields_cache: dict[str, list[str]] = {}
        self._stats: dict[str, CallStats] = {}
        self._stats_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ZohoConnector:
        """Build from :class:`flows.config.settings.Settings` (``SALESOPS_ZOHO_*`` and ``SALESOPS_HTTP_*``).

        Each credential comes from its env var or, when that is unset, from the Prefect Secret
        block named by ``SALESOPS_ZOHO_<CREDENTIAL>_BLOCK`` (see :mod:`flows.crm.secrets`)."""
        from flows.crm.secrets import resolve_credentials

        creds, missing = resolve_credentials(
            settings, ("zoho_client_id", "zoho_client_secret", "zoho_refresh_token")
        )
        if missing:
            env = ", ".join(f"SALESOPS_{n.upper()} (or SALESOPS_{n.upper()}_BLOCK)" for n in missing)
            raise ValueError(f"Zoho is enabled but {env} not set")
        kwargs: dict[str, Any] = {
            "accounts_url": settings.zoho_accounts_url,
            "client_id": creds["zoho_client_id"],
            "client_secret": creds["zoho_client_secret"],
            "refresh_token": creds["zoho_refresh_token"],
            "api_version": settings.zoho_api_version,
            "timeout": settings.http_timeout_seconds,
            "max_retries": settings.http_max_retries,
            "backoff_base": settings.http_backoff_base_seconds,
            "backoff_max": settings.http_backoff_max_seconds,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        domain = self._token.api_domain if self._token else None
        return f"ZohoConnector(accounts_url={self.accounts_url!r}, api_domain={domain!r})"

    # --- protocol ----------------------------------------------------------------------------
    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        """Live records changed since ``cursors[obj]``, then deletes since ``cursors[obj + '.deleted']``."""
        if obj not in self.objects:
            raise ValueError(f"unknown zoho object {obj!r}; known: {', '.join(self.objects)}")
        if obj == "users":
            yield from self._user_pages()
            return
        if obj == "deal_stage_history":
            stored = None if full_refresh else self._stored_cursor(obj, cursors.get(obj))
            yield from self._stage_history_pages(obj, stored)
            return
        module = MODULES[obj]
        stored = None if full_refresh else self._stored_cursor(obj, cursors.get(obj))
        yield from self._record_pages(obj, module, stored)
        deleted_name = f"{obj}.deleted"
        stored_deleted = (
            None if full_refresh else self._stored_cursor(deleted_name, cursors.get(deleted_name))
        )
        yield from self._deleted_pages(obj, module, stored_deleted)

    def stats(self, obj: str) -> CallStats:
        with self._stats_lock:
            return self._stats.setdefault(obj, CallStats())

    def cursor_names(self, obj: str) -> tuple[str, ...]:
        """Records by ``Modified_Time`` under ``obj``, deletes by ``deleted_time`` under ``obj.deleted``."""
        return (obj, f"{obj}.deleted")

    def cursor_value(self, since: datetime) -> str:
        return cursor_value(since)

    def close(self) -> None:
        self._session.close()

    # --- records -----------------------------------------------------------------------------
    def _record_pages(self, obj: str, module: str, stored: datetime | None) -> Iterator[Page]:
        for records, high in self._keyset(obj, module, self._fields(obj, module), stored):
            yield Page(records, cursor=(obj, cursor_value(high)) if high else None)

    def _stage_history_pages(self, obj: str, stored: datetime | None) -> Iterator[Page]:
        """History of the deals changed since ``stored``: one related-list call per changed deal."""
        workers = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="zoho-history")
        # Deals in the overlap window that did not change since the cursor are listed (cheap: 200
        # per call) but their history is not re-fetched; a deal in the cursor's own second is.
        changed_since = stored - KEYSET_SLACK if stored else None
        previous: set[tuple[str, datetime | None]] = set()
        try:
            for deals, high in self._keyset(obj, "Deals", ["Modified_Time"], stored):
                current = {(r.id, r.modified_at) for r in deals}
                ids = list(
                    dict.fromkeys(
                        r.id
                        for r in deals
                        # a keyset restart re-reads the previous page's last second: fetch once
                        if (r.id, r.modified_at) not in previous
                        and (changed_since is None or r.modified_at is None or r.modified_at >= changed_since)
                    )
                )
                previous = current
                records = [
                    rec
                    for batch in workers.map(lambda deal_id: self._deal_history(obj, deal_id), ids)
                    for rec in batch
                ]
                yield Page(records, cursor=(obj, cursor_value(high)) if high else None)
        finally:
            workers.shutdown(wait=True, cancel_futures=True)

    def _deal_history(self, obj: str, deal_id: str) -> list[RawRecord]:
        out: list[RawRecord] = []
        page = 1
        while True:
            params = {"fields": ",".join(STAGE_HISTORY_FIELDS), "per_page": self.per_page, "page": page}
            # A deal deleted between the listing and this call: its history goes with it.
            body = self._get(obj, f"/Deals/{deal_id}/Stage_History", params, {}, gone_ok=True)
            if body is None and page == 1:
                log.info("zoho %s: deal %s has no stage history (deleted meanwhile?)", obj, deal_id)
            data = (body or {}).get("data") or []
            for item in data:
                if isinstance(item, dict) and item.get("id") not in (None, ""):
                    out.append(
                        RawRecord(
                            id=f"{deal_id}:{item['id']}",
                            record=item,
                            modified_at=parse_datetime(item.get("Modified_Time")),
                        )
                    )
            info = (body or {}).get("info") or {}
            if not (info.get("more_records") and data):
                return out
            page += 1

    def _keyset(
        self, obj: str, module: str, fields: list[str], stored: datetime | None
    ) -> Iterator[tuple[list[RawRecord], datetime | None]]:
        """Records of ``module`` modified since ``stored`` (minus overlap), page by page, with the
        cursor that is safe once the page is committed."""
        params = {
            "fields": ",".join(fields),
            "per_page": self.per_page,
            "sort_by": "Modified_Time",
            "sort_order": "asc",
            **MODULE_PARAMS.get(module, {}),
        }
        since = stored - self.overlap if stored else None
        high = stored  # the cursor never moves backwards
        while True:
            restart: datetime | None = None
            for data, more in self._query(obj, f"/{module}", params, since):
                records = self._raw_records(obj, data)
                page_max = max((r.modified_at for r in records if r.modified_at), default=None)
                if page_max and (high is None or page_max > high):
                    high = page_max
                yield records, high
                if more and page_max and (since is None or page_max - KEYSET_SLACK > since):
                    restart = page_max - KEYSET_SLACK
                    break
            if restart is None:
                return
            since = restart

    def _query(
        self, obj: str, path: str, params: dict[str, Any], since: datetime | None
    ) -> Iterator[tuple[list[dict], bool]]:
        """One parameter set, page by page: ``page`` up to record 2000, then ``page_token``."""
        headers = {"If-Modified-Since": since.isoformat()} if since else {}
        page, token = 1, None
        while True:
            call = dict(params, page_token=token) if token else dict(params, page=page)
            body = self._get(obj, path, call, headers)
            if body is None:  # 204 / 304: nothing (more) to read
                return
            data = body.get("data") or []
            info = body.get("info")
            if not isinstance(info, dict):
                log.warning(
                    "zoho %s: GET %s page %s came without 'info'; inferring more_records", obj, path, page
                )
                info, more = {}, len(data) >= self.per_page
            else:
                more = bool(info.get("more_records"))
            if more and not data:
                log.warning("zoho %s: GET %s answered more_records=true with no data; stopping", obj, path)
                more = False
            yield data, more
            if not more:
                return
            if token or (page + 1) * self.per_page > DISCRETE_LIMIT:
                token = info.get("next_page_token")
                if not token:
                    raise self._error(
                        obj, f"GET {path}", f"more than {DISCRETE_LIMIT} records but no next_page_token"
                    )
            else:
                page += 1

    def _raw_records(self, obj: str, data: list[dict]) -> list[RawRecord]:
        out, missing = [], 0
        for item in data:
            if not isinstance(item, dict):
                raise CrmError(f"zoho {obj}: the API returned a record that is not an object: {item!r:.200}")
            record_id = item.get("id")
            if record_id in (None, ""):
                # Never dropped: landed under a surrogate id derived from its content, where the
                # data-quality gate quarantines it ("the record carries its id") for someone to fix.
                record_id = f"missing-id:{record_hash(item)[:16]}"
                log.warning("zoho %s: a record without id landed as %s for quarantine", obj, record_id)
            modified = parse_datetime(item.get("Modified_Time"))
            if modified is None:
                missing += 1
            out.append(RawRecord(id=str(record_id), record=item, modified_at=modified))
        if missing:
            log.warning(
                "zoho %s: %d record(s) without a usable Modified_Time landed with modified_at NULL",
                obj,
                missing,
            )
        return out

    def _deleted_pages(self, obj: str, module: str, stored: datetime | None) -> Iterator[Page]:
        """Deletes come newest first, so the cursor is only safe once the last page is read."""
        since = stored - self.overlap if stored else None
        headers = {"If-Modified-Since": since.isoformat()} if since else {}
        name, high, page = f"{obj}.deleted", stored, 1
        path = f"/{module}/deleted"
        while True:
            body = self._get(obj, path, {"type": "all", "page": page, "per_page": self.per_page}, headers)
            data = (body or {}).get("data") or []
            records = []
            for item in data:
                deleted_at = parse_datetime(item.get("deleted_time"))
                if deleted_at is None:
                    log.warning(
                        "zoho %s: deleted record %s without deleted_time; using now", obj, item.get("id")
                    )
                    deleted_at = datetime.now(UTC)
                else:
                    high = max(high, deleted_at) if high else deleted_at
                records.append(
                    RawRecord(id=str(item["id"]), record=item, modified_at=None, deleted_at=deleted_at)
                )
            info = (body or {}).get("info") or {}
            more = bool(info.get("more_records")) and bool(data)
            if more:
                yield Page(records)
                page += 1
                continue
            if records or high != stored:
                yield Page(records, cursor=(name, cursor_value(high)) if high else None)
            return

    def _user_pages(self) -> Iterator[Page]:
        """Users have no If-Modified-Since: a full read every run (they are few)."""
        page = 1
        while True:
            body = self._get(
                "users", "/users", {"type": "AllUsers", "page": page, "per_page": self.per_page}, {}
            )
            users = (body or {}).get("users") or []
            records = self._raw_records("users", users)
            if records:
                yield Page(records)
            info = (body or {}).get("info") or {}
            if not (info.get("more_records") and users):
                return
            page += 1

    def _fields(self, obj: str, module: str) -> list[str]:
        """Field API names from ``/settings/fields``: contract fields first, capped at 50."""
        if module in self._fields_cache:
            return self._fields_cache[module]
        body = self._get(obj, "/settings/fields", {"module": module}, {}) or {}
        names = [f["api_name"] for f in body.get("fields") or [] if isinstance(f, dict) and f.get("api_name")]
        preferred = [n for n in PREFERRED_FIELDS.get(module, ()) if n in names or n == "Modified_Time"]
        ordered = preferred + [n for n in names if n not in preferred and n != "id"]
        if len(ordered) > MAX_FIELDS:
            log.warning(
                "zoho %s: %s has %d fields; requesting the first %d (dropped: %s)",
                obj,
                module,
                len(ordered),
                MAX_FIELDS,
                ", ".join(ordered[MAX_FIELDS:]),
            )
            ordered = ordered[:MAX_FIELDS]
        self._fields_cache[module] = ordered
        return ordered

    # --- HTTP --------------------------------------------------------------------------------
    def _get(
        self,
        obj: str,
        path: str,
        params: dict[str, Any],
        headers: dict[str, str],
        *,
        gone_ok: bool = False,
    ) -> dict | None:
        """GET an API path; ``None`` for 204/304 (and, with ``gone_ok``, for a 400 ``INVALID_DATA``
        on a record that no longer exists). One token refresh + replay on an auth error."""
        endpoint = f"GET /crm/{self.api_version}{path}"
        for attempt in (1, 2):
            used: list[_Token] = [self._access_token(obj)]

            def auth_headers(used: list[_Token] = used) -> dict[str, str]:
                # Per attempt: a retry after a long 429 wait must not replay an expired token.
                token = self._access_token(obj)
                used.append(token)
                return {**headers, "Authorization": f"Zoho-oauthtoken {token.value.get_secret_value()}"}

            url = f"{used[0].api_domain}/crm/{self.api_version}{path}"
            resp = self._send(obj, endpoint, "GET", url, params=params, headers_fn=auth_headers)
            token = used[-1]
            if resp.status_code == 401 and attempt == 1 and self._error_code(resp) in AUTH_ERRORS:
                log.info(
                    "zoho %s: %s answered 401 %s; refreshing the token once and replaying",
                    obj,
                    endpoint,
                    self._error_code(resp),
                )
                self._refresh(obj, stale=token)
                continue
            break
        if resp.status_code in (204, 304):
            return None
        if gone_ok and resp.status_code == 400 and self._error_code(resp) == "INVALID_DATA":
            return None
        if resp.status_code >= 400:
            raise self._error(obj, endpoint, describe_response(resp))
        try:
            body = resp.json()
        except ValueError:
            raise self._error(obj, endpoint, f"HTTP {resp.status_code} with a non-JSON body") from None
        if not isinstance(body, dict):
            raise self._error(obj, endpoint, f"HTTP {resp.status_code} with an unexpected JSON body")
        return body

    def _send(
        self, obj: str, endpoint: str, method: str, url: str, *, slot: bool = True, **kwargs: Any
    ) -> requests.Response:
        """One request with retries; CRM API calls hold one of ``max_concurrency`` slots (token
        calls to the accounts server do not: they are not counted against the org's cap)."""
        stats = self.stats(obj)

        def on_attempt() -> None:
            with self._stats_lock:
                stats.api_calls += 1

        def on_retry(cause: str, n: int, delay: float) -> None:
            with self._stats_lock:
                stats.retries += 1
            log.warning(self._redact(f"zoho {obj}: {endpoint}: {cause}; retry {n} in {delay:.1f}s"))

        with self._slots if slot else contextlib.nullcontext():
            try:
                return request_with_retries(
                    self._session,
                    method,
                    url,
                    policy=self.policy,
                    timeout=self.timeout,
                    sleep=self._sleep,
                    rng=self._rng,
                    on_attempt=on_attempt,
                    on_retry=on_retry,
                    **kwargs,
                )
            except RetriesExhausted as exc:
                raise self._error(obj, endpoint, str(exc)) from None

    @staticmethod
    def _error_code(resp: requests.Response) -> str | None:
        try:
            body = resp.json()
        except ValueError:
            return None
        return body.get("code") if isinstance(body, dict) else None

    # --- OAuth -------------------------------------------------------------------------------
    def _access_token(self, obj: str) -> _Token:
        token = self._token
        if token is None or self._monotonic() >= token.expires_at - TOKEN_MARGIN_SECONDS:
            token = self._refresh(obj, stale=token)
        return token

    def _refresh(self, obj: str, *, stale: _Token | None) -> _Token:
        """Get a new access token, unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self._token is not None and self._token is not stale:
                return self._token
            endpoint = "POST /oauth/v2/token"
            waited = 0.0
            while True:
                # Credentials go in the form body, never the URL: URLs end up in access logs.
                resp = self._send(
                    obj,
                    endpoint,
                    "POST",
                    f"{self.accounts_url}/oauth/v2/token",
                    slot=False,
                    data={
                        "grant_type": "refresh_token",
                        "client_id": self._client_id.get_secret_value(),
                        "client_secret": self._client_secret.get_secret_value(),
                        "refresh_token": self._refresh_token.get_secret_value(),
                    },
                )
                try:
                    body = resp.json()
                except ValueError:
                    raise self._error(obj, endpoint, describe_response(resp)) from None
                if not isinstance(body, dict):
                    raise self._error(obj, endpoint, f"HTTP {resp.status_code} with an unexpected body")
                if body.get("access_token"):
                    break
                error = str(body.get("error") or f"HTTP {resp.status_code}")
                if error == "Access Denied" or "too many requests" in str(body.get("error_description", "")):
                    if waited >= self.refresh_throttle_max_wait:
                        raise self._error(obj, endpoint, f"token refresh still throttled after {waited:.0f}s")
                    log.warning(
                        "zoho %s: token refresh throttled by Zoho (10 per 10 min); waiting %.0fs",
                        obj,
                        self.refresh_throttle_wait,
                    )
                    self._sleep(self.refresh_throttle_wait)
                    waited += self.refresh_throttle_wait
                    continue
                raise self._error(
                    obj,
                    endpoint,
                    f"token refresh rejected ({error}); check the Zoho client id, "
                    "client secret and refresh token",
                )
            seconds = float(body.get("expires_in_sec") or body.get("expires_in") or 3600)
            if "expires_in_sec" not in body and seconds > 86400:
                seconds /= 1000  # legacy milliseconds
            api_domain = str(body.get("api_domain") or "").rstrip("/")
            if not api_domain:
                raise self._error(obj, endpoint, "token response without api_domain")
            self._token = _Token(SecretStr(body["access_token"]), api_domain, self._monotonic() + seconds)
            self.stats(obj).token_refreshes += 1
            return self._token

    # --- errors ------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        secrets = [self._client_id, self._client_secret, self._refresh_token]
        if self._token is not None:
            secrets.append(self._token.value)
        for secret in secrets:
            value = secret.get_secret_value()
            if value:
                text = text.replace(value, "**********")
        return text

    def _error(self, obj: str, endpoint: str, cause: str) -> CrmError:
        return CrmError(self._redact(f"zoho {obj}: {endpoint} failed: {cause}"))

    def _stored_cursor(self, name: str, value: str | None) -> datetime | None:
        if not value:
            return None
        parsed = parse_datetime(value)
        if parsed is None:
            raise CrmError(f"zoho {name}: stored cursor {value!r} is not an ISO-8601 instant with offset")
        return parsed
