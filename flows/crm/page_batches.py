"""Consecutive pages of one object, gathered to be landed in one transaction.

Why: every landing transaction pays a cost that does not depend on its size - the upsert's
statements, the watermark and the commit (about 20 ms on the 2-core machine), and a join of the
batch to the raw table that DuckDB answers by scanning the whole table. A first load of a
million-record object read 100 or 200 records a call pays it tens of thousands of times (Fxiaoke's
34,612 pages at 1M deals). A batch of pages committed with the last cursor of each name is as safe
as one page: its rows and its cursors commit together or not at all, so a killed run resumes from
the last committed batch and re-reads at most one batch (docs/connectors.md, "Landing").

What keeps the warehouse exactly as landing page by page would leave it:

- a page that repeats an id of the batch with a different version starts a new batch: within one
  upsert a record has one version, while page by page a later delete keeps the earlier page's body.
  The same version again (a keyset restart re-reads the previous page's last second, so most Zoho
  pages repeat a few records of the page before) joins: page by page it would land as unchanged,
  and is counted so (:func:`repeats`);
- each cursor name is stored with its last value, in the order the pages came;
- a batch that fails to land is landed again page by page (:func:`flows.crm.landing.land_pages`),
  so the pages before the bad one commit as before and the error is the same page's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flows.config.settings import Settings
from flows.crm.base import Page
from flows.warehouse.database import RawRecord

#: Records gathered before a batch is landed (``SALESOPS_LANDING_BATCH_RECORDS``). Why this size:
#: at 5,000 the fixed ~20 ms of a transaction is a small share of the batch's own upsert time (about
#: 0.01 ms a record), and the batch (a few MB) is small next to a Bulk Read page, landed as it comes.
BATCH_RECORDS = 5_000

#: Seconds a batch may wait for more pages before it is landed anyway
#: (``SALESOPS_LANDING_BATCH_SECONDS``): against a real, slow API the cursors still move every few
#: seconds, and a killed run re-reads at most this long.
BATCH_SECONDS = 5.0


@dataclass(frozen=True)
class BatchLimits:
    """When a batch is landed: ``records`` gathered, or its first page ``seconds`` old."""

    records: int = BATCH_RECORDS
    seconds: float = BATCH_SECONDS

    @classmethod
    def of(cls, settings: Settings) -> BatchLimits:
        """The limits the pipeline's settings name (``landing_batch_records`` / ``_seconds``)."""
        return cls(settings.landing_batch_records, settings.landing_batch_seconds)


@dataclass
class PageBatch:
    """Pages of one object not yet landed, in the order they were read."""

    limits: BatchLimits = field(default_factory=BatchLimits)
    pages: list[Page] = field(default_factory=list)
    records: int = 0
    started: float = 0.0
    _versions: dict[str, RawRecord] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.pages)

    def accepts(self, page: Page) -> bool:
        """Whether ``page`` may join: within the size limit, and any id of the batch it repeats
        in the very version the batch holds."""
        if not self.pages:
            return True
        if self.records + len(page.records) > self.limits.records:
            return False
        held = self._versions
        return all(r.id not in held or _same(held[r.id], r) for r in page.records)

    def add(self, page: Page) -> None:
        if not self.pages:
            self.started = time.monotonic()
        self.pages.append(page)
        self.records += len(page.records)
        for r in page.records:
            self._versions[r.id] = r

    def due(self) -> bool:
        """Full, or gathering for longer than the limits allow: time to land it."""
        return self.records >= self.limits.records or (
            bool(self.pages) and time.monotonic() - self.started >= self.limits.seconds
        )

    def take(self) -> list[Page]:
        """The batch's pages; the batch starts empty again."""
        pages = self.pages
        self.pages, self.records, self._versions = [], 0, {}
        return pages


def merged(pages: list[Page]) -> tuple[list[RawRecord], list[tuple[str, str]]]:
    """The pages' records in order, and each cursor name with its last value (in first-seen order)."""
    records = [rec for page in pages for rec in page.records]
    cursors: dict[str, str] = {}
    for page in pages:
        if page.cursor is not None:
            name, value = page.cursor
            cursors[name] = value
    return records, list(cursors.items())


def _same(a: RawRecord, b: RawRecord) -> bool:
    return a.modified_at == b.modified_at and a.deleted_at == b.deleted_at and a.record == b.record


def repeats(pages: list[Page]) -> int:
    """Records whose id an earlier page of the batch already had (in the same version, as
    :meth:`PageBatch.accepts` requires): page by page each would have landed as unchanged."""
    seen: set[str] = set()
    count = 0
    for page in pages:
        ids = {r.id for r in page.records}
        count += sum(1 for r in page.records if r.id in seen)
        seen |= ids
    return count
