"""Zoho CRM's documented concurrency limits, the one place the connector and the sandbox take them from.

Zoho CRM "API Limits" (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html, section
"Concurrency"; also Zoho's Kaizen #93 "Credit Calculation and Concurrency in Zoho CRM APIs"): the
number of API calls one app may have in flight at once for a user is capped per edition (Free 5,
Standard/Starter 10, Professional 15, Enterprise/Zoho One 20, Ultimate/CRM Plus 25); a stricter
*sub-concurrency* limit of 10 applies on every edition to resource-intensive calls, among them
Get Records with ``cvid`` or ``sort_by`` (our keyset listings), Convert Lead, Insert/Update/Upsert
of more than 10 records, Send Mail, Search and Query. A call beyond either limit is answered
HTTP 429 ``TOO_MANY_REQUESTS`` ("the concurrency limit of the user for the app is exceeded").
The related list ``GET /Deals/{id}/Stage_History`` is not among the sub-concurrency APIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Calls in flight at once per app and user, by edition (the page's "Concurrency" table).
CONCURRENCY_LIMITS: dict[str, int] = {
    "free": 5,
    "standard": 10,
    "professional": 15,
    "enterprise": 20,
    "ultimate": 25,
}
#: The default: the Free edition's limit, so the connector stays within it on every edition.
SAFE_CONCURRENCY = min(CONCURRENCY_LIMITS.values())
#: The highest documented limit: a setting above it cannot be within any org's cap.
MAX_CONCURRENCY = max(CONCURRENCY_LIMITS.values())
#: Sub-concurrency limit (every edition) of the resource-intensive calls.
SUB_CONCURRENCY_LIMIT = 10
#: Query parameters that put a Get Records call under the sub-concurrency limit.
SUB_CONCURRENCY_PARAMS = ("cvid", "sort_by")


def under_sub_concurrency(params: Mapping[str, Any]) -> bool:
    """Whether a GET with these query parameters counts against the sub-concurrency limit."""
    return any(name in params for name in SUB_CONCURRENCY_PARAMS)
