"""What every CRM connector offers the ingest step.

A connector yields :class:`Page` objects. Each page carries the records to land and, optionally,
the cursor value that is safe to store once those records are committed. The ingest step writes
a page's records and its cursor in one transaction (with the pages before it in its batch,
:mod:`flows.crm.page_batches`), so a killed run resumes from the last committed batch: nothing
lost, nothing duplicated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from flows.warehouse.database import RawRecord


class CrmError(RuntimeError):
    """A CRM call failed for good (after retries). The message names source, object and cause,
    and never contains a credential."""


@dataclass
class Page:
    records: list[RawRecord]
    #: (cursor name, value) to store after this page is committed, e.g. ("deals", "2026-11-01T...").
    cursor: tuple[str, str] | None = None


@dataclass
class CallStats:
    """Counters a connector keeps per object, reported in ``ops.ingest_runs``."""

    api_calls: int = 0
    retries: int = 0
    token_refreshes: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    #: the fewest calls that could have read what was read (None: the connector does not say);
    #: reported next to ``api_calls`` as the object's API budget (docs/connectors.md)
    min_calls: int | None = None


class CrmConnector(Protocol):
    source: str  #: "zoho" | "fxiaoke": the prefix of the raw tables
    objects: tuple[str, ...]  #: object names in load order; raw table is raw.<source>_<object>

    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        """Yield the pages of one object changed since the stored cursors (all when full_refresh)."""
        ...

    def stats(self, obj: str) -> CallStats:
        """API calls and retries made so far for ``obj``."""
        ...

    def cursor_names(self, obj: str) -> tuple[str, ...]:
        """The names of the cursors ``pages(obj, ...)`` reads (stored in ``ops.watermarks``)."""
        ...

    def cursor_value(self, since: datetime) -> str:
        """An aware instant in the form this connector stores its cursors: how an operator's
        ``--since`` becomes a cursor without the ingest step knowing any connector's format."""
        ...

    def close(self) -> None: ...
