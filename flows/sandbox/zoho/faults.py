"""The Zoho sandbox's fault switches: what a test (or ``POST /__admin/faults``) flips at runtime."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


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
    #: the next K Bulk Read jobs end in ``FAILURE`` instead of ``COMPLETED``.
    bulk_failures: int = 0

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
