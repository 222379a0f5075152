"""Fxiaoke reads: full lists, keyset paging by modified time, instants, tombstones.

Incremental objects are read ``last_modified_time BETWEEN [cursor - overlap, now]`` ordered by
``last_modified_time, _id``; every page restarts at offset 0 from the last time seen (keyset), a
full page inside one instant is offset-paged by ``_id`` and re-scanned if its ``total`` shrank.
Deletes and full-refresh tombstones are explained in docs/connectors.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flows.crm.base import CallStats, CrmError, Page
from flows.crm.fxiaoke.objects import (
    DEPARTMENT_LIST_PATH,
    INSTANT_RESCANS,
    ORDER_BY_ID,
    ROOT_DEPARTMENT_ID,
    USER_LIST_PATH,
    KnownIds,
    Spec,
    between,
    order_keyset,
    row_time,
    sweep_cursor,
)
from flows.crm.fxiaoke.values import datetime_to_ms, ms_or_none, ms_to_datetime
from flows.warehouse.database import RawRecord

log = logging.getLogger(__name__)

#: Fewer missing rows than this never stop a sweep: a few deletions in a small object are routine.
SWEEP_GUARD_MIN_ROWS = 5


class FxiaokeReads:
    """The paging half of :class:`flows.crm.fxiaoke.connector.FxiaokeConnector` (a mixin)."""

    overlap: timedelta
    page_size: int
    open_user_id: str
    known_ids: KnownIds | None
    deletion_sweep: timedelta | None
    max_missing_share: float
    _specs: dict[str, Spec]
    _clock: Callable[[], datetime]

    if TYPE_CHECKING:

        def stats(self, obj: str) -> CallStats: ...

        def _call(self, obj: str, path: str, build: Callable[[dict], dict]) -> dict: ...

    def _employees(self) -> Page:
        body = {"departmentId": ROOT_DEPARTMENT_ID, "fetchChild": True, "showDepartmentIdsDetail": True}
        payload = self._call("employees", USER_LIST_PATH, lambda auth: {**auth, **body})
        records = [
            RawRecord(id=str(emp["openUserId"]), record=emp, modified_at=ms_or_none(emp.get("updateTime")))
            for emp in self._list(payload, "empList", "employees")
        ]
        return Page(records)

    def _departments(self) -> Page:
        payload = self._call("departments", DEPARTMENT_LIST_PATH, lambda auth: dict(auth))
        records = [
            RawRecord(id=str(dep["departmentId"]), record=dep, modified_at=ms_or_none(dep.get("updateTime")))
            for dep in self._list(payload, "departments", "departments")
        ]
        return Page(records)

    @staticmethod
    def _list(payload: dict, key: str, obj: str) -> list[dict]:
        rows = payload.get(key)
        if not isinstance(rows, list):
            raise CrmError(f"fxiaoke {obj}: answer has no {key!r} list (traceId {payload.get('traceId')})")
        return rows

    def _incremental(
        self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False
    ) -> Iterator[Page]:
        spec = self._specs[obj]
        cursor = None if full_refresh else cursors.get(obj)
        lo = 0
        if cursor:
            try:
                lo = max(0, int(cursor) - self.overlap // timedelta(milliseconds=1))
            except ValueError:
                raise CrmError(f"fxiaoke {obj}: stored cursor {cursor!r} is not epoch milliseconds") from None
        hi = datetime_to_ms(self._clock())
        high_water = int(cursor) if cursor else None
        sweep = self._sweep_due(obj, spec, cursors, full_refresh)
        # a read of every row (full refresh, first load) is itself the id scan
        reconcile = (
            (full_refresh or (sweep and not cursor)) and self.known_ids is not None and not spec.is_log
        )
        seen: set[str] = set()
        read = 0
        for rows in self._keyset_pages(obj, spec, lo, hi):
            records = [self._raw(obj, spec, row) for row in rows]
            read += len(records)
            if reconcile:
                seen.update(r.id for r in records)
            page_max = max(row_time(obj, spec, row) for row in rows)
            high_water = page_max if high_water is None else max(high_water, page_max)
            yield Page(records, cursor=(obj, str(high_water)))
        if reconcile:
            yield from self._tombstones(obj, spec, seen, hi)
        elif sweep:
            yield from self._tombstones(obj, spec, self._swept_ids(obj, spec), hi, reason="id sweep")
        if sweep:  # committed after the tombstones: a sweep killed half-way is done again next run
            yield Page([], cursor=(sweep_cursor(obj), str(hi)))
        self._set_minimum(obj, read, swept=sweep and not reconcile)

    def _set_minimum(self, obj: str, read: int, *, swept: bool) -> None:
        """The fewest calls for what was read: pages of ``page_size`` ending on a short page (so
        ``n // page_size + 1``), the same for an id sweep, one lookup per batch of stored ids the
        scan did not return, and the token fetches (docs/connectors.md, "API budget"). Added up
        over reads, as ``api_calls`` is."""
        stats = self.stats(obj)
        extra = stats.extra
        minimum = read // self.page_size + 1
        if swept:
            minimum += extra.get("swept_ids", 0) // self.page_size + 1
        extra["min_reads"] = extra.get("min_reads", 0) + minimum
        stats.min_calls = extra["min_reads"] + extra.get("token_calls", 0) + extra.get("tombstone_batches", 0)

    def _sweep_due(self, obj: str, spec: Spec, cursors: Mapping[str, str], full_refresh: bool) -> bool:
        """Whether this read ends with a deletion sweep: configured (``deletion_sweep``), a
        ``known_ids`` hook to compare with, a data/query object, and the last sweep (cursor
        ``<obj>.id_sweep``, epoch ms) at least ~``deletion_sweep`` ago (10 % early, so that a
        nightly schedule sweeps every night even when a run starts a little earlier)."""
        if self.deletion_sweep is None or self.known_ids is None or spec.is_log:
            return False
        last = cursors.get(sweep_cursor(obj))
        if full_refresh or not last:
            return True
        elapsed = datetime_to_ms(self._clock()) - int(last)
        return elapsed >= 0.9 * (self.deletion_sweep // timedelta(milliseconds=1))

    def _swept_ids(self, obj: str, spec: Spec) -> set[str]:
        """Every id the API has for ``obj``: data/query with only ``_id`` projected, keyset-paged
        by ``_id`` (``GT`` the last id seen; no offsets, so rows deleted meanwhile shift nothing).
        One call per :attr:`page_size` rows: far cheaper than a full refresh."""
        seen: set[str] = set()
        last: str | None = None
        while True:
            filters = [{"field_name": "_id", "field_values": [last], "operator": "GT"}] if last else []
            rows = self._query(obj, spec, filters, ORDER_BY_ID, offset=0, with_total=False, fields=["_id"])[0]
            seen.update(str(r["_id"]) for r in rows)
            if len(rows) < self.page_size:
                break
            last = str(rows[-1]["_id"])
        self.stats(obj).extra["swept_ids"] = len(seen)
        return seen

    def _tombstones(
        self, obj: str, spec: Spec, seen: set[str], hi: int, reason: str = "full refresh"
    ) -> Iterator[Page]:
        """Stored ids a complete scan did not return: confirm each is gone, then mark it deleted.

        A stored row can be missing from the scan only because it was modified after ``hi`` (it
        left the window) or because it was permanently deleted (or invalidated while data/query
        hides invalid rows). An ``_id IN`` lookup without a time filter tells the two apart, so
        a row edited during the run is never tombstoned: it is landed as a live row instead.
        """
        assert self.known_ids is not None
        known = {str(i) for i in self.known_ids(obj)}
        candidates = sorted(known - seen)
        if not candidates:
            return
        self._guard_missing_share(obj, reason, len(candidates), len(known))
        deleted_at = ms_to_datetime(hi)
        stats = self.stats(obj)
        batches = -(-len(candidates) // self.page_size)
        stats.extra["tombstone_batches"] = stats.extra.get("tombstone_batches", 0) + batches
        for start in range(0, len(candidates), self.page_size):
            batch = candidates[start : start + self.page_size]
            flt = {"field_name": "_id", "field_values": batch, "operator": "IN"}
            rows = self._query(obj, spec, [flt], ORDER_BY_ID, offset=0, with_total=False)[0]
            alive = [r for r in rows if str(r["_id"]) in set(batch)]
            gone = set(batch) - {str(r["_id"]) for r in alive}
            records = [self._raw(obj, spec, row) for row in alive]
            records += [
                RawRecord(
                    id=rid,
                    record={"_id": rid, "_salesops_tombstone": f"not returned by the API ({reason})"},
                    modified_at=deleted_at,
                    deleted_at=deleted_at,
                )
                for rid in sorted(gone)
            ]
            stats.extra["tombstones"] = stats.extra.get("tombstones", 0) + len(gone)
            if records:
                yield Page(records)
        log.info(
            "fxiaoke %s: %s marked %d vanished row(s) deleted", obj, reason, stats.extra.get("tombstones", 0)
        )

    def _guard_missing_share(self, obj: str, reason: str, missing: int, known: int) -> None:
        """Refuse to mark a large share of the landed live rows deleted at once.

        A scan that misses that many rows is more likely a truncated or filtered answer (a changed
        data permission of the API user, a paging fault) than a mass deletion; marking them deleted
        would take them out of every mart. The ingest fails instead, naming the override.
        """
        if missing < SWEEP_GUARD_MIN_ROWS or missing <= self.max_missing_share * known:
            return
        raise CrmError(
            f"fxiaoke {obj}: the {reason} did not return {missing} of the {known} live rows landed "
            f"({missing / known:.0%}, more than the {self.max_missing_share:.0%} allowed by "
            f"SALESOPS_FXIAOKE_SWEEP_MAX_MISSING_SHARE={self.max_missing_share:g}); none was marked deleted. "
            "A truncated or filtered API answer (the API user's data permissions?) looks like this. If "
            "they really were deleted in Fxiaoke, run once with SALESOPS_FXIAOKE_SWEEP_MAX_MISSING_SHARE=1"
        )

    def _keyset_pages(self, obj: str, spec: Spec, lo: int, hi: int) -> Iterator[list[dict]]:
        """Rows with ``lo <= time <= hi``, each exactly once, in time order (time: ``spec.time_field``)."""
        lower, seen_at_lower = lo, set[str]()
        order = order_keyset(spec.time_field)
        while lower <= hi:
            rows = self._query(
                obj, spec, [between(spec.time_field, lower, hi)], order, offset=0, with_total=False
            )[0]
            times = [row_time(obj, spec, r) for r in rows]
            if times != sorted(times):
                raise CrmError(f"fxiaoke {obj}: the API ignored the {spec.time_field} order")
            fresh = [
                r for r, t in zip(rows, times, strict=True) if not (t == lower and r["_id"] in seen_at_lower)
            ]
            if fresh:
                yield fresh
            if len(rows) < self.page_size:
                return
            last = times[-1]
            ids_at_last = {r["_id"] for r, t in zip(rows, times, strict=True) if t == last}
            if last != lower:
                lower, seen_at_lower = last, ids_at_last
                continue
            # A full page inside one instant: offset-page that instant, then move past it.
            yield from self._instant_pages(obj, spec, lower, seen_at_lower | ids_at_last)
            lower, seen_at_lower = lower + 1, set()

    def _instant_pages(self, obj: str, spec: Spec, instant: int, seen: set[str]) -> Iterator[list[dict]]:
        for _ in range(INSTANT_RESCANS):
            offset, totals = 0, []
            while True:
                rows, total = self._query(
                    obj,
                    spec,
                    [between(spec.time_field, instant, instant)],
                    ORDER_BY_ID,
                    offset=offset,
                    with_total=True,
                )
                totals.append(total)
                fresh = [r for r in rows if r["_id"] not in seen]
                seen.update(r["_id"] for r in fresh)
                if fresh:
                    yield fresh
                if len(rows) < self.page_size:
                    break
                offset += self.page_size
            if None in totals or totals[0] == totals[-1]:
                return  # nothing left the instant while we paged it: the scan was consistent
            log.info(
                "fxiaoke %s: rows left instant %d while paging it (%s -> %s); rescanning",
                obj,
                instant,
                totals[0],
                totals[-1],
            )
        log.warning("fxiaoke %s: instant %d kept changing; relying on the next run's overlap", obj, instant)

    def _query(
        self,
        obj: str,
        spec: Spec,
        filters: list[dict],
        orders: list[dict],
        *,
        offset: int,
        with_total: bool,
        fields: list[str] | None = None,
    ) -> tuple[list[dict], int | None]:
        search: dict[str, Any] = {
            "limit": self.page_size,
            "offset": offset,
            "filters": filters,
            "orders": orders,
        }
        if fields:
            search["fieldProjection"] = fields
        if spec.is_log:
            data: dict[str, Any] = {"apiName": spec.api_name, "search_query_info": search}
            if spec.field_api_name:
                data["fieldApiName"] = spec.field_api_name
        else:
            data = {
                "dataObjectApiName": spec.api_name,
                "find_explicit_total_num": with_total,
                "search_query_info": search,
            }
        payload = self._call(
            obj, spec.path, lambda auth: {**auth, "currentOpenUserId": self.open_user_id, "data": data}
        )
        result = payload.get("data")
        rows = result.get("dataList") if isinstance(result, dict) else None
        if not isinstance(rows, list):
            raise CrmError(
                f"fxiaoke {obj}: {spec.path} answer has no data.dataList (traceId {payload.get('traceId')})"
            )
        for row in rows:
            if not isinstance(row, dict) or not row.get("_id"):
                raise CrmError(f"fxiaoke {obj}: {spec.path} returned a row without _id")
        total = result.get("total")
        return rows, total if isinstance(total, int) else None

    def _raw(self, obj: str, spec: Spec, row: dict) -> RawRecord:
        modified = ms_to_datetime(row_time(obj, spec, row))
        deleted = row.get("life_status") == "invalid" or row.get("is_deleted") is True
        return RawRecord(
            id=str(row["_id"]), record=row, modified_at=modified, deleted_at=modified if deleted else None
        )
