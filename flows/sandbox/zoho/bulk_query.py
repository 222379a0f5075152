"""The ``query`` of a Zoho Bulk Read job: module, fields, criteria on the record times, page or
page token; validated as the sandbox serves it (see :mod:`flows.sandbox.zoho.bulk`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.sandbox.zoho.encoding.wire import MODULES, parse_zoho_datetime, zoho_id
from flows.sandbox.zoho.protocol import BadRequest, error
from flows.sandbox.zoho.store import ModuleRows

#: Fields a job may name at most (Zoho: 200 in a bulk read query).
MAX_BULK_FIELDS = 200
TIME_FIELDS = ("Modified_Time", "Created_Time")
_COMPARATORS = ("equal", "greater_than", "greater_equal", "less_than", "less_equal", "between")


@dataclass(frozen=True)
class Condition:
    field: str  # Modified_Time | Created_Time
    comparator: str
    values: tuple[datetime, ...]
    raw: Any

    def holds(self, at: datetime) -> bool:
        first = self.values[0]
        return {
            "equal": at == first,
            "greater_than": at > first,
            "greater_equal": at >= first,
            "less_than": at < first,
            "less_equal": at <= first,
            "between": len(self.values) == 2 and first <= at <= self.values[1],
        }[self.comparator]


@dataclass(frozen=True)
class BulkQuery:
    module: str
    fields: list[str]
    conditions: list[Condition] = field(default_factory=list)
    page: int = 1
    criteria: Any = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "module": {"api_name": self.module, "id": zoho_id("layouts", 1 + MODULES.index(self.module))}
        }
        if self.fields:
            out["fields"] = list(self.fields)
        if self.criteria is not None:
            out["criteria"] = self.criteria
        out["page"] = self.page
        return out

    def matching(self, store: ModuleRows) -> Sequence[str]:
        """Ids of the rows the criteria keep, ascending (the whole sorted index when there are none)."""
        if not self.conditions:
            return store.ids()
        return [
            rid
            for rid in store.ids()
            if all(
                c.holds(store[rid].modified if c.field == "Modified_Time" else store[rid].created)
                for c in self.conditions
            )
        ]


def parse_query(
    query: Any, rows: dict[str, ModuleRows], tokens: dict[str, tuple[BulkQuery, int]]
) -> BulkQuery:
    """The job's query, or a 400 in Zoho's envelope naming what is wrong."""
    if not isinstance(query, dict):
        raise BadRequest(_missing("query"))
    token = query.get("page_token")
    if token is not None:
        if token not in tokens or "page" in query:
            raise BadRequest(_invalid("page_token", "the given page_token is invalid"))
        previous, page = tokens[token]
        return BulkQuery(previous.module, previous.fields, previous.conditions, page, previous.criteria)
    module = query.get("module")
    name = module.get("api_name") if isinstance(module, dict) else module
    if not name:
        raise BadRequest(_missing("module"))
    if name not in MODULES or name not in rows:
        raise BadRequest(
            error(400, "INVALID_MODULE", "the module name given seems to be invalid", {"module": name})
        )
    fields = query.get("fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise BadRequest(_invalid("fields"))
    if len(fields) > MAX_BULK_FIELDS:
        raise BadRequest(
            error(400, "LIMIT_EXCEEDED", "the number of fields exceeds the limit", {"limit": MAX_BULK_FIELDS})
        )
    page = query.get("page", 1)
    if type(page) is not int or page < 1:
        raise BadRequest(_invalid("page"))
    criteria = query.get("criteria")
    conditions = _conditions(criteria) if criteria is not None else []
    return BulkQuery(name, [f for f in fields if f != "id"], conditions, page, criteria)


def _conditions(criteria: Any) -> list[Condition]:
    if not isinstance(criteria, dict):
        raise BadRequest(_invalid("criteria"))
    if "group" in criteria:
        group = criteria.get("group")
        if criteria.get("group_operator", "and").lower() != "and" or not isinstance(group, list) or not group:
            raise BadRequest(_invalid("criteria", "the sandbox supports groups joined by 'and' only"))
        return [c for part in group for c in _conditions(part)]
    target = criteria.get("field")
    name = target.get("api_name") if isinstance(target, dict) else criteria.get("api_name")
    comparator = criteria.get("comparator")
    if name not in TIME_FIELDS:
        raise BadRequest(_invalid("criteria", f"the sandbox filters on {' and '.join(TIME_FIELDS)} only"))
    if comparator not in _COMPARATORS:
        raise BadRequest(_invalid("comparator"))
    raw = criteria.get("value")
    texts = raw if isinstance(raw, list) else [raw]
    if comparator == "between" and len(texts) != 2:
        raise BadRequest(_invalid("value", "between takes two values"))
    return [Condition(name, comparator, tuple(_instant(t) for t in texts), raw)]


def _instant(text: Any) -> datetime:
    """An ISO-8601 datetime with seconds precision (Zoho: milliseconds are not supported)."""
    if not isinstance(text, str) or "." in text:
        raise BadRequest(_invalid("value", "a datetime like 2026-10-01T00:00:00+05:30 is expected"))
    try:
        return parse_zoho_datetime(text).astimezone(UTC)
    except ValueError as exc:
        raise BadRequest(_invalid("value")) from exc


def _invalid(name: str, message: str = "invalid data") -> Any:
    return error(400, "INVALID_DATA", message, {"api_name": name})


def _missing(name: str) -> Any:
    return error(
        400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"api_name": name}
    )
