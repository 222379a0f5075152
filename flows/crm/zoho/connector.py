"""Zoho CRM v8 connector: the :class:`flows.crm.base.CrmConnector` over OAuth, paging and deletes.

Tokens and their refresh live in :mod:`flows.crm.zoho.auth`, paging in :mod:`flows.crm.zoho.reads`,
the modules and fields read in :mod:`flows.crm.zoho.objects`, HTTP retries in
:mod:`flows.crm.zoho.transport`. The design (api_domain, token life, keyset paging, cursor
overlap, incremental stage history, converted leads, rate limits, redaction) is explained in
docs/connectors.md.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests
from pydantic import SecretStr

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.retry import RetriesExhausted, RetryPolicy
from flows.crm.sessions import ApiSession, Response, api_session
from flows.crm.zoho.auth import AUTH_ERRORS, AccessToken, ZohoAuth, secret
from flows.crm.zoho.bulk import ZohoBulkRead
from flows.crm.zoho.limits import SAFE_CONCURRENCY, SUB_CONCURRENCY_LIMIT, under_sub_concurrency
from flows.crm.zoho.objects import MODULES
from flows.crm.zoho.reads import ZohoReads, cursor_value, parse_datetime
from flows.crm.zoho.transport import describe_response, request_with_retries

log = logging.getLogger(__name__)


class ZohoConnector(ZohoBulkRead, ZohoReads, ZohoAuth):
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
        max_concurrency: int = SAFE_CONCURRENCY,
        overlap: timedelta = timedelta(minutes=5),
        per_page: int = 200,
        refresh_throttle_wait: float = 60.0,
        refresh_throttle_max_wait: float = 900.0,
        rate_limit_max_wait: float = 1800.0,
        bulk_min_records: int | None = None,
        bulk_max_wait: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        session: requests.Session | ApiSession | None = None,
    ):
        self.accounts_url = accounts_url.rstrip("/")
        self._client_id = secret(client_id)
        self._client_secret = secret(client_secret)
        self._refresh_token = secret(refresh_token)
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
        self._session = session or api_session(pool_size=self.max_concurrency)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        #: listings with ``sort_by`` also hold one of these: Zoho's sub-concurrency limit (limits.py)
        self._sub_slots = threading.BoundedSemaphore(min(self.max_concurrency, SUB_CONCURRENCY_LIMIT))
        self._token_lock = threading.Lock()
        self._token: AccessToken | None = None
        self._fields_cache: dict[str, list[str]] = {}
        self._field_types: dict[str, dict[str, dict]] = {}
        self._picklist_cache: dict[str, dict[str, Any]] = {}
        #: first loads of modules with at least this many records go through Bulk Read (None: never)
        self.bulk_min_records = bulk_min_records
        self.bulk_max_wait = bulk_max_wait
        self.landed = None  # lent by the ingest step: flows.crm.landed_rows.LandedRows
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
            "bulk_min_records": settings.zoho_bulk_read_min_records if settings.zoho_bulk_read else None,
            "bulk_max_wait": settings.zoho_bulk_read_max_wait_seconds,
            "max_concurrency": settings.zoho_concurrency,
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
        elif obj == "deal_stage_history":
            yield from self._stage_history(obj, None if full_refresh else cursors.get(obj))
        else:
            yield from self._module_pages(obj, cursors, full_refresh)
        self._set_minimum(obj)

    def _module_pages(self, obj: str, cursors: Mapping[str, str], full_refresh: bool) -> Iterator[Page]:
        module = MODULES[obj]
        stored = None if full_refresh else self._stored_cursor(obj, cursors.get(obj))
        if stored is None and self._bulk_wanted(obj, module):
            yield from self._bulk_pages(obj, module)
        else:
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
            used: list[AccessToken] = [self._access_token(obj)]

            def auth_headers(used: list[AccessToken] = used) -> dict[str, str]:
                # Per attempt: a retry after a long 429 wait must not replay an expired token.
                token = self._access_token(obj)
                used.append(token)
                return {**headers, "Authorization": f"Zoho-oauthtoken {token.value.get_secret_value()}"}

            url = f"{used[0].api_domain}/crm/{self.api_version}{path}"
            resp = self._send(
                obj,
                endpoint,
                "GET",
                url,
                sub=under_sub_concurrency(params),
                params=params,
                headers_fn=auth_headers,
            )
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

    def _call(self, obj: str, method: str, path: str, **kwargs: Any) -> Response:
        """Any CRM call on the api_domain (``path`` from ``/crm/...``, or a full URL), its response
        as is (Bulk Read: JSON or a zip); one token refresh + replay on an auth error."""
        endpoint = f"{method} {path.split('?')[0]}"
        for attempt in (1, 2):
            used: list[AccessToken] = [self._access_token(obj)]

            def auth_headers(used: list[AccessToken] = used) -> dict[str, str]:
                token = self._access_token(obj)
                used.append(token)
                return {"Authorization": f"Zoho-oauthtoken {token.value.get_secret_value()}"}

            url = path if path.startswith("http") else f"{used[0].api_domain}{path}"
            resp = self._send(obj, endpoint, method, url, headers_fn=auth_headers, **kwargs)
            if resp.status_code == 401 and attempt == 1 and self._error_code(resp) in AUTH_ERRORS:
                self._refresh(obj, stale=used[-1])
                continue
            return resp
        raise AssertionError("unreachable")

    def _send(
        self,
        obj: str,
        endpoint: str,
        method: str,
        url: str,
        *,
        slot: bool = True,
        sub: bool = False,
        **kwargs: Any,
    ) -> Response:
        """One request with retries; CRM API calls hold one of ``max_concurrency`` slots (token
        calls to the accounts server do not: they are not counted against the org's cap), and a
        call under Zoho's sub-concurrency limit (``sub``) one of its slots as well, taken first so
        a call waiting for it does not sit on a general slot (flows/crm/zoho/limits.py)."""
        stats = self.stats(obj)

        def on_attempt() -> None:
            with self._stats_lock:
                stats.api_calls += 1

        def on_retry(cause: str, n: int, delay: float) -> None:
            with self._stats_lock:
                stats.retries += 1
            log.warning(self._redact(f"zoho {obj}: {endpoint}: {cause}; retry {n} in {delay:.1f}s"))

        no_slot = contextlib.nullcontext()
        with self._sub_slots if sub else no_slot, self._slots if slot else no_slot:
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
    def _error_code(resp: Response) -> str | None:
        try:
            body = resp.json()
        except ValueError:
            return None
        return body.get("code") if isinstance(body, dict) else None

    def _stored_cursor(self, name: str, value: str | None) -> datetime | None:
        if not value:
            return None
        parsed = parse_datetime(value)
        if parsed is None:
            raise CrmError(f"zoho {name}: stored cursor {value!r} is not an ISO-8601 instant with offset")
        return parsed
