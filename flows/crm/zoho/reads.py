"""Zoho reads: keyset paging on Modified_Time, deletes, users, stage history and field lists.

Records are read ``sort_by=Modified_Time&sort_order=asc`` and after each full page the query
restarts at page 1 from the page's newest ``Modified_Time`` minus one second, so the cursor after
every page is safe to commit (docs/connectors.md explains why not offset paging).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.zoho.objects import MAX_FIELDS, MODULE_PARAMS, PREFERRED_FIELDS, STAGE_HISTORY_FIELDS
from flows.warehouse.database import RawRecord, record_hash

log = logging.getLogger(__name__)

#: How the ingest step keys a landed row ("<loaded_at>|<id>", :class:`flows.crm.landed_rows.LandedRows`).
KEY_SEP = "|"

DISCRETE_LIMIT = 2000
#: Within a run, restart keyset queries one second before the newest time seen: safe whether the
#: server's If-Modified-Since is inclusive (as observed) or exclusive.
KEYSET_SLACK = timedelta(seconds=1)


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


class ZohoReads:
    """The paging half of :class:`flows.crm.zoho.connector.ZohoConnector` (a mixin)."""

    per_page: int
    overlap: timedelta
    max_concurrency: int
    _fields_cache: dict[str, list[str]]
    _field_types: dict[str, dict[str, dict]]
    _stats_lock: threading.Lock
    #: the ingest step's :class:`flows.crm.landed_rows.LandedRows` while it runs (None: on our own)
    landed: Any = None

    if TYPE_CHECKING:

        def _get(
            self,
            obj: str,
            path: str,
            params: dict[str, Any],
            headers: dict[str, str],
            *,
            gone_ok: bool = False,
        ) -> dict | None: ...

        def _error(self, obj: str, endpoint: str, cause: str) -> CrmError: ...

        def stats(self, obj: str) -> CallStats: ...

    def _record_pages(self, obj: str, module: str, stored: datetime | None) -> Iterator[Page]:
        previous: set[tuple[str, datetime | None]] = set()
        for records, high in self._keyset(obj, module, self._fields(obj, module), stored):
            current = {(r.id, r.modified_at) for r in records}
            # a keyset restart re-reads the previous page's last second: count each record once
            self._count(obj, "listed", len(current - previous))
            previous = current
            yield Page(records, cursor=(obj, cursor_value(high)) if high else None)

    def _count(self, obj: str, name: str, n: int) -> None:
        """Add to a counter of ``stats(obj).extra`` (reader threads share the stats)."""
        stats = self.stats(obj)  # takes the stats lock itself
        with self._stats_lock:
            stats.extra[name] = stats.extra.get(name, 0) + n

    def _set_minimum(self, obj: str) -> None:
        """The fewest calls that read what this run read (docs/connectors.md, "API budget"):
        ``n // per_page + 1`` per listing (the last page is the short one), the field list, one
        call per changed deal's history page, the token fetches."""
        stats = self.stats(obj)
        extra = stats.extra
        listings = [extra[k] for k in ("listed", "deleted_listed") if k in extra]
        minimum = sum(n // self.per_page + 1 for n in listings)
        minimum += extra.get("fields_calls", 0) + extra.get("history_pages", 0) + extra.get("bulk_calls", 0)
        stats.min_calls = minimum + stats.token_refreshes

    def _stage_history(self, obj: str, raw_cursor: str | None) -> Iterator[Page]:
        """History of the deals whose stage history can have changed since the last read.

        With the warehouse lent (``landed``, the ingest step) and deals landed: the deals whose
        landed row changed after the cursor (a stage change modifies the deal, and an unchanged
        deal is not rewritten), all live deals when there is no cursor; the cursor is the landing
        key of the last deal done. Otherwise (the connector on its own, or no deals landed yet):
        the deals changed since the cursor by a keyset listing of Deals."""
        landed = self.landed
        keyed = bool(raw_cursor and KEY_SEP in raw_cursor)
        if landed is not None and landed.has_rows("deals"):
            since = None if keyed or not raw_cursor else parse_datetime(raw_cursor)
            if raw_cursor and not keyed and since is None:
                raise CrmError(f"zoho {obj}: stored cursor {raw_cursor!r} is neither a key nor an instant")
            after = raw_cursor if keyed else None
            yield from self._landed_history_pages(obj, landed, after, since - KEYSET_SLACK if since else None)
            return
        if keyed:
            log.warning("zoho %s: no deals landed; reading every deal's history", obj)
        stored = None if keyed or not raw_cursor else parse_datetime(raw_cursor)
        if raw_cursor and not keyed and stored is None:
            raise CrmError(f"zoho {obj}: stored cursor {raw_cursor!r} is not an ISO-8601 instant with offset")
        yield from self._stage_history_pages(obj, stored)

    def _landed_history_pages(
        self, obj: str, landed: Any, after: str | None, since: datetime | None
    ) -> Iterator[Page]:
        batches = (
            ([deal_id for deal_id, _ in batch], (obj, batch[-1][1]))
            for batch in landed.changed("deals", after=after, modified_since=since, batch=self.per_page)
        )
        yield from self._history_batches(obj, batches)

    def _stage_history_pages(self, obj: str, stored: datetime | None) -> Iterator[Page]:
        """History of the deals changed since ``stored``: one related-list call per changed deal."""
        yield from self._history_batches(obj, self._changed_deal_batches(obj, stored))

    def _changed_deal_batches(
        self, obj: str, stored: datetime | None
    ) -> Iterator[tuple[list[str], tuple[str, str] | None]]:
        """Ids of the deals changed since ``stored`` by a keyset listing, page by page, with the
        cursor that is safe once their history is landed."""
        # Deals in the overlap window that did not change since the cursor are listed (cheap: 200
        # per call) but their history is not re-fetched; a deal in the cursor's own second is.
        changed_since = stored - KEYSET_SLACK if stored else None
        previous: set[tuple[str, datetime | None]] = set()
        for deals, high in self._keyset(obj, "Deals", ["Modified_Time"], stored):
            current = {(r.id, r.modified_at) for r in deals}
            self._count(obj, "listed", len(current - previous))
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
            yield ids, (obj, cursor_value(high)) if high else None

    def _history_batches(
        self, obj: str, batches: Iterator[tuple[list[str], tuple[str, str] | None]]
    ) -> Iterator[Page]:
        """One page per batch of deals, its history fetched ``max_concurrency`` deals at a time.

        Why this shape: Zoho has no bulk endpoint for Stage_History, so a first load is one call per
        deal, and one after another they would take a round trip each. The calls of the next batch
        are already under way while this batch's page is landed (the caller's one writer), so the
        workers do not idle at batch ends. A page holds its deals' rows in the batch's order, however
        the calls completed, and carries the batch's cursor only once every deal of it is fetched:
        a call that fails raises here, before its page, so the cursor stays where it was."""
        workers = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="zoho-history")
        ahead: deque[tuple[list[Future[list[RawRecord]]], tuple[str, str] | None]] = deque()
        try:
            for ids, cursor in batches:
                ahead.append(([workers.submit(self._deal_history, obj, deal_id) for deal_id in ids], cursor))
                if len(ahead) > 1:
                    yield self._history_page(*ahead.popleft())
            while ahead:
                yield self._history_page(*ahead.popleft())
        finally:
            workers.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _history_page(fetches: list[Future[list[RawRecord]]], cursor: tuple[str, str] | None) -> Page:
        return Page([rec for fetch in fetches for rec in fetch.result()], cursor=cursor)

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
                self._count(obj, "history_pages", page)
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
            self._count(obj, "deleted_listed", len(records))
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
            self._count("users", "listed", len(records))
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
        self._count(obj, "fields_calls", 1)
        metadata = [f for f in body.get("fields") or [] if isinstance(f, dict) and f.get("api_name")]
        self._field_types[module] = {f["api_name"]: f for f in metadata}
        names = [f["api_name"] for f in metadata]
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
