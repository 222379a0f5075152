"""The Zoho sandbox's fault switches: what a test (or ``POST /__admin/faults``) flips at runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from flows.crm.zoho.limits import SAFE_CONCURRENCY, SUB_CONCURRENCY_LIMIT
from flows.sandbox.httpd import Reply
from flows.sandbox.zoho.protocol import error


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
    #: per-app concurrency limit (Zoho: 5-25 by edition, flows/crm/zoho/limits.py); calls beyond it
    #: get 429 TOO_MANY_REQUESTS. The sandbox org is a Free-edition org (5); None lifts the limit.
    concurrency_cap: int | None = SAFE_CONCURRENCY
    #: sub-concurrency limit of listings with ``sort_by``/``cvid`` (Zoho: 10 on every edition).
    sub_concurrency_cap: int | None = SUB_CONCURRENCY_LIMIT
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
    #: the next K Bulk Read jobs end in ``FAILURE`` instead of ``COMPLETED``.
    bulk_failures: int = 0

    def over_concurrency(self, in_flight: int, sub_in_flight: int, *, sub: bool) -> Reply | None:
        """Zoho's answer to a call beyond the app's concurrency limit, or beyond the sub-concurrency
        limit when it is a listing with ``sort_by``/``cvid`` (flows/crm/zoho/limits.py); None within."""
        cap, sub_cap = self.concurrency_cap, self.sub_concurrency_cap
        if cap is not None and in_flight >= cap:
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The concurrency limit of the user for the app is exceeded",
                {"limit": cap},
            )
        if sub and sub_cap is not None and sub_in_flight >= sub_cap:
            return error(
                429,
                "TOO_MANY_REQUESTS",
                "The sub-concurrency limit of the user for the app is exceeded",
                {"limit": sub_cap},
            )
        return None

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
