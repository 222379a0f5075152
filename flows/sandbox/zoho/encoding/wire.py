"""Zoho CRM v8 wire conventions: 19-digit string ids, ISO-8601 datetimes carrying the org's offset,
amounts as JSON numbers, the modules the sandbox serves. See docs/sandbox.md ("Zoho encoding")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flows.sandbox.company.model import CURRENCY_SCALE

ORG_TZ = ZoneInfo("America/Los_Angeles")
#: A fixed org prefix, so every id is 19 digits: prefix (7) + kind (3) + key (9).
ORG_PREFIX = "5725767"
KIND_CODES = {
    "users": 1,
    "Deals": 2,
    "Accounts": 3,
    "Contacts": 4,
    "Products": 5,
    "roles": 6,
    "profiles": 7,
    "territories": 8,
    "pipelines": 9,
    "Leads": 10,
    "Sales_Orders": 11,
    "Invoices": 12,
    "Stage_History": 13,
    "layouts": 14,
    "stages": 15,
    "Tasks": 16,
    "Calls": 17,
    "Events": 18,
}
#: The record modules the sandbox serves.
MODULES = (
    "Deals",
    "Accounts",
    "Contacts",
    "Products",
    "Leads",
    "Sales_Orders",
    "Invoices",
    "Tasks",
    "Calls",
    "Events",
)
#: Activity module -> the generator's activity kind.
ACTIVITY_MODULES = {"Tasks": "task", "Calls": "call", "Events": "event"}
#: Rich-text fields: list responses cut them to this many characters (single-record GET does not).
RICH_TEXT_FIELDS = ("Description",)
RICH_TEXT_LIST_LIMIT = 500
PIPELINE = {"name": "Standard (Standard)", "id": None}  # id filled in by zoho_id("pipelines", 1)


def zoho_id(kind: str, key: int) -> str:
    """A deterministic 19-digit id for (kind, key); kept a string because it exceeds 2**53."""
    if not 0 <= key < 10**9:
        raise ValueError(f"key {key} out of range for a Zoho id")
    return f"{ORG_PREFIX}{KIND_CODES[kind]:03d}{key:09d}"


def zoho_datetime(ts: datetime, tz: ZoneInfo = ORG_TZ) -> str:
    """ISO-8601 in the org time zone, second precision, with an explicit offset (never ``Z``)."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime")
    return ts.astimezone(tz).replace(microsecond=0).isoformat()


def parse_zoho_datetime(text: str) -> datetime:
    """Parse an ``If-Modified-Since`` / record datetime; naive values are taken as org-local."""
    ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return ts if ts.tzinfo else ts.replace(tzinfo=ORG_TZ)


def money(value: Decimal | None) -> float | None:
    """Amounts as JSON numbers. A 2-decimal Decimal survives float exactly as JSON text
    (``repr`` is the shortest round-trip form), so the wire shows ``48000.5`` not ``48000.499…``."""
    return None if value is None else float(value)


def exchange_rate(currency: str) -> float:
    """Home currency (USD) per unit of ``currency``, the contract's definition of Exchange_Rate."""
    scale = CURRENCY_SCALE.get(currency, Decimal("1"))
    return float((Decimal("1") / scale).quantize(Decimal("0.000001")))


class ZohoRow:
    """A served record plus what the server filters and sorts on: its id, and its created and
    modified instants (UTC datetimes).

    Built on demand: a row made with :meth:`lazy` keeps its source object and the encoder
    function, and encodes the record each time it is read (holding a million encoded records
    would cost gigabytes). A row the sandbox edits is :meth:`pin`-ned: encoded once, then kept.
    ``tag`` is a partition the listing filters on (Leads: ``"true"``/``"false"`` converted)."""

    __slots__ = ("_build", "_record", "_source", "created", "modified", "rid", "tag")

    def __init__(self, record: dict[str, Any], created: datetime, modified: datetime, tag: str | None = None):
        self.rid: str = record["id"]
        self.created, self.modified, self.tag = created, modified, tag
        self._record: dict[str, Any] | None = record
        self._source: Any = None
        self._build: Callable[[Any], ZohoRow] | None = None

    @classmethod
    def lazy(
        cls,
        rid: str,
        created: datetime,
        modified: datetime,
        source: Any,
        build: Callable[[Any], ZohoRow],
        tag: str | None = None,
    ) -> ZohoRow:
        row = cls.__new__(cls)
        row.rid, row.created, row.modified, row.tag = rid, created, modified, tag
        row._record, row._source, row._build = None, source, build
        return row

    @property
    def record(self) -> dict[str, Any]:
        """The encoded record (a fresh dict for a lazy row: read it, do not edit it; see :meth:`pin`)."""
        if self._record is not None:
            return self._record
        assert self._build is not None
        return self._build(self._source).record

    def pin(self) -> dict[str, Any]:
        """The record, kept from now on, so that edits to it stay."""
        if self._record is None:
            self._record = self.record
            self._source = self._build = None
        return self._record
