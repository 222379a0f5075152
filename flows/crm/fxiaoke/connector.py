"""Fxiaoke (纷享销客) connector: employees, departments and CRM objects as RawRecords.

Implements :class:`flows.crm.base.CrmConnector`. Auth lives in :mod:`flows.crm.fxiaoke.auth`,
paging in :mod:`flows.crm.fxiaoke.reads`, objects and endpoints in
:mod:`flows.crm.fxiaoke.objects`, the HTTP-200 ``errorCode`` semantics in
:mod:`flows.crm.fxiaoke.transport`; docs/connectors.md explains the design (objects, auth
modes, keyset paging, deletes and tombstones, errors).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from pydantic import SecretStr

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.fxiaoke.auth import AUTH_MODES, FxiaokeAuth
from flows.crm.fxiaoke.objects import MAX_PAGE_SIZE, OBJECTS, KnownIds, object_specs, split_names
from flows.crm.fxiaoke.reads import FxiaokeReads
from flows.crm.fxiaoke.transport import FxiaokeTransport
from flows.crm.fxiaoke.values import datetime_to_ms
from flows.crm.pacing import Pacer
from flows.crm.retry import RetryPolicy

if TYPE_CHECKING:
    from flows.config.settings import Settings


def _secret(value: str | SecretStr | None) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _pacer(
    calls: int | None, window: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> Pacer | None:
    """One call of headroom under the limit (none for a limit of one call); no pacer without a limit."""
    if not calls:
        return None
    return Pacer(calls, window, clock=clock, sleep=sleep, headroom=1 if calls > 1 else 0)


class FxiaokeConnector(FxiaokeReads, FxiaokeAuth):
    """Reads Fxiaoke over its OpenAPI; implements :class:`flows.crm.base.CrmConnector`.

    ``auth_mode``: ``"legacy"`` (corpAccessToken in every body) or ``"oauth2"`` (client
    credentials from ``/oauth2.0/token``; ``authorization: Bearer``, ``x-fs-ea`` and
    ``x-fs-userid`` headers). ``custom_objects``: API names of custom objects
    (``object_xxx__c``), read from the custom endpoint and landed as ``custom_<api name>``.
    ``known_ids``: optional ``known_ids(obj) -> set of ids`` stored live in the warehouse; on a
    full refresh, ids it returns that the API no longer has are yielded as deleted (tombstones).
    ``deletion_sweep``: how often an incremental read ends with an id-only sweep that finds the
    rows deleted for good (needs ``known_ids``; None: only on a full refresh).
    ``max_missing_share``: the largest share of an object's stored live ids a sweep or full refresh
    may find missing; above it (and at least ``SWEEP_GUARD_MIN_ROWS`` rows) the read fails instead.
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
        deletion_sweep: timedelta | None = None,
        max_missing_share: float = 0.2,
        pace_calls: int | None = None,
        pace_window: float = 20.0,
        read_workers: int = 1,
    ):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        if auth_mode not in AUTH_MODES:
            raise CrmError(f"fxiaoke: auth mode {auth_mode!r} is not one of {', '.join(AUTH_MODES)}")
        self.auth_mode = auth_mode
        self.known_ids = known_ids
        self.deletion_sweep = deletion_sweep
        if not 0 < max_missing_share <= 1:
            raise ValueError("max_missing_share must be in (0, 1]")
        self.max_missing_share = max_missing_share
        #: objects read at once by the ingest step (each in a thread; one writer lands them)
        self.read_workers = max(1, read_workers)
        self._token_lock = threading.Lock()
        self._specs, custom = object_specs(custom_objects)
        self.objects = OBJECTS + custom
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
        # Paced per endpoint under the documented limit (crm_apis §2.7: 60 calls / 20 s per API),
        # on the same clock and sleep as everything else (tests drive both).
        pacer = _pacer(pace_calls, pace_window, lambda: self._clock().timestamp(), sleep)
        self._http = FxiaokeTransport(
            base_url,
            timeout=timeout,
            policy=policy,
            sleep=sleep,
            redact=self._redact,
            session=session,
            rng=rng,
            pacer=pacer,
            pool_size=self.read_workers,
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
            "custom_objects": split_names(getattr(settings, "fxiaoke_custom_objects", "") or ""),
            "deletion_sweep": timedelta(days=settings.fxiaoke_deletion_sweep_days),
            "max_missing_share": settings.fxiaoke_sweep_max_missing_share,
            "pace_calls": settings.fxiaoke_rate_limit_calls or None,
            "pace_window": settings.fxiaoke_rate_limit_window_seconds,
            "read_workers": settings.fxiaoke_read_workers,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    # --- protocol ---------------------------------------------------------------------------------

    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        """Pages of ``obj``. Employees and departments: the full list, one page, no cursor.
        Every other object: changes since ``cursors[obj]`` (epoch ms as a string; for stage
        changes the log's ``operateTime``). On a full refresh with a ``known_ids`` hook, a last
        page carries tombstones for stored ids the API no longer returns; so does an incremental
        read when the deletion sweep is due, and a final page then records the sweep's cursor."""
        if obj not in self.objects:
            raise CrmError(f"fxiaoke: unknown object {obj!r} (known: {', '.join(self.objects)})")
        stats = self._stats.setdefault(obj, CallStats())
        if obj in ("employees", "departments"):
            yield self._employees() if obj == "employees" else self._departments()
            stats.extra["min_reads"] = stats.extra.get("min_reads", 0) + 1  # one list call
            stats.min_calls = stats.extra["min_reads"] + stats.extra.get("token_calls", 0)
        else:
            yield from self._incremental(obj, cursors, full_refresh=full_refresh)

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
