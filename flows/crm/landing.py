"""Land CRM objects into the warehouse, page by page.

Each page is one transaction: its rows are upserted and the connector's cursor is advanced in
the same commit. Killing the process at any point therefore leaves the warehouse at the end of
the last committed page; the next run re-reads from that cursor (minus the connector's overlap)
and the idempotent upsert absorbs the overlap. Memory stays flat: nothing is accumulated across
pages.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from flows.crm.base import CrmConnector, Page
from flows.warehouse.database import (
    OPS_SCHEMA,
    IngestRun,
    Warehouse,
    ensure_raw_table,
    raw_table_name,
    record_ingest_run,
    set_watermark,
    stored_live_ids,
    upsert_raw,
)

log = logging.getLogger(__name__)

#: Called after every committed page: (source, object, rows so far in this object).
ProgressCallback = Callable[[str, str, int], None]


class IngestError(RuntimeError):
    """Landing one object failed; the message names the source and the object. ``runs``: the
    objects of this source landed before it and its own failed run, as recorded."""

    def __init__(self, source: str, obj: str, cause: BaseException):
        super().__init__(f"ingest of {source}.{obj} failed: {cause}")
        self.source = source
        self.object = obj
        self.runs: list[IngestRun] = []


def read_cursors(conn, source: str) -> dict[str, str]:
    rows = conn.execute(
        f"select object, watermark from {OPS_SCHEMA}.watermarks where source = ?", [source]
    ).fetchall()
    return dict(rows)


def ingest_object(
    connector: CrmConnector,
    warehouse: Warehouse,
    obj: str,
    *,
    run_id: str,
    full_refresh: bool = False,
    cursor_overrides: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> IngestRun:
    """Land one object. Raises :class:`IngestError` after recording the failed run."""
    run = _new_run(connector, obj, run_id, full_refresh)
    with warehouse.connect() as conn:
        # An object the CRM has no records of still gets its (empty) raw table: "landed, zero rows"
        # is a fact the gate and dbt can see, unlike a table that does not exist.
        ensure_raw_table(conn, raw_table_name(connector.source, obj))
        cursors = read_cursors(conn, connector.source)
        cursors.update(cursor_overrides or {})
        lent = _lend_warehouse(connector, conn)
        try:
            pages = timed_pages(connector.pages(obj, cursors, full_refresh=full_refresh))
            for page, waited in pages:
                run.read_seconds += waited
                land_page(conn, connector, obj, page, run, run_id)
                if progress:
                    progress(connector.source, obj, run.stats.received)
            run.status = "succeeded"
        except Exception as exc:
            run.status = "failed"
            run.error = str(exc)
            failure = IngestError(connector.source, obj, exc)
            failure.runs = [run]  # completed by the finally below
            raise failure from exc
        finally:
            for name in lent:
                setattr(connector, name, None)
            finish_run(conn, connector, run)
    return run


def _new_run(connector: CrmConnector, obj: str, run_id: str, full_refresh: bool) -> IngestRun:
    return IngestRun(
        run_id=run_id,
        source=connector.source,
        object=obj,
        started_at=datetime.now(UTC),
        mode="full_refresh" if full_refresh else "incremental",
    )


#: Separates the landing time and the id in a :class:`LandedRows` key ("<loaded_at ISO>|<id>").
KEY_SEP = "|"


class LandedRows:
    """What a connector may read of the raw tables while the ingest step writes them: which rows
    landed (inserted or changed) after a key. Why: a dependent object (Zoho's stage history) needs
    re-reading only for the parent rows whose content changed since it was last read, and the
    warehouse knows exactly which those are (an unchanged record is not rewritten). Each call reads
    through a DuckDB cursor of its own, so a reader thread may call it while pages commit."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, source: str):
        self._conn = conn
        self._source = source
        self._lock = threading.Lock()

    def _query(self, sql: str, params: list) -> list[tuple]:
        with self._lock:
            cursor = self._conn.cursor()
        try:
            return cursor.execute(sql, params).fetchall()
        finally:
            cursor.close()

    def _table(self, obj: str) -> str | None:
        schema, table = raw_table_name(self._source, obj).split(".", 1)
        found = self._query(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return f"{schema}.{table}" if found[0][0] else None

    def has_rows(self, obj: str) -> bool:
        table = self._table(obj)
        return bool(table and self._query(f"select count(*) > 0 from {table}", [])[0][0])

    def records(self, obj: str, ids: Sequence[str]) -> list[tuple[str, dict]]:
        """``(id, record)`` of the landed rows of ``obj`` with these ids (deleted ones included: a
        lookup may name a deleted record), for lookups a bulk export gives as bare ids."""
        table = self._table(obj)
        if table is None or not ids:
            return []
        rows = self._query(f"select id, record from {table} where id in (select unnest(?))", [list(ids)])
        return [(rid, json.loads(record) if isinstance(record, str) else record) for rid, record in rows]

    def changed(
        self, obj: str, *, after: str | None = None, modified_since: datetime | None = None, batch: int = 200
    ) -> Iterator[list[tuple[str, str]]]:
        """Live rows of ``obj`` landed after the key ``after`` (all when None) and, when given,
        modified at or after ``modified_since``: ``(id, key)`` in key order, ``batch`` at a time."""
        table = self._table(obj)
        if table is None:
            return
        at, last_id = (None, None)
        if after:
            stamp, _, last_id = after.rpartition(KEY_SEP)
            at = datetime.fromisoformat(stamp)
        while True:
            where, params = ["not is_deleted"], []
            if modified_since is not None:
                where.append("modified_at >= ?")
                params.append(modified_since)
            if at is not None:
                where.append("(loaded_at > ? or (loaded_at = ? and id > ?))")
                params += [at, at, last_id]
            rows = self._query(
                f"select id, loaded_at from {table} where {' and '.join(where)} "
                f"order by loaded_at, id limit {int(batch)}",
                params,
            )
            if not rows:
                return
            yield [(rid, f"{loaded.astimezone(UTC).isoformat()}{KEY_SEP}{rid}") for rid, loaded in rows]
            at, last_id = rows[-1][1], rows[-1][0]


def _lend_warehouse(connector: CrmConnector, conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Hooks into the warehouse for a connector that asks for them (the attribute exists and is
    None); returns the attributes lent, to be set back to None after the read.

    ``known_ids``: a full refresh or a deletion sweep can find records deleted for good in the CRM
    (no delete feed), given the ids stored live. ``landed``: a :class:`LandedRows`."""
    lent = []
    if getattr(connector, "known_ids", False) is None:
        lock = threading.Lock()

        def known_ids(obj: str) -> set[str]:
            with lock:
                cursor = conn.cursor()
            try:
                return stored_live_ids(cursor, connector.source)(obj)
            finally:
                cursor.close()

        connector.known_ids = known_ids  # type: ignore[attr-defined]
        lent.append("known_ids")
    if getattr(connector, "landed", False) is None:
        connector.landed = LandedRows(conn, connector.source)  # type: ignore[attr-defined]
        lent.append("landed")
    return lent


def timed_pages(pages: Iterator[Page]) -> Iterator[tuple[Page, float]]:
    """Each page with the seconds spent waiting for it (the connector's HTTP and parsing)."""
    while True:
        started = time.perf_counter()
        try:
            page = next(pages)
        except StopIteration:
            return
        yield page, time.perf_counter() - started


def land_page(
    conn: duckdb.DuckDBPyConnection,
    connector: CrmConnector,
    obj: str,
    page: Page,
    run: IngestRun,
    run_id: str,
) -> None:
    """One page and its cursor in one transaction; its time counts as landing."""
    started = time.perf_counter()
    conn.begin()
    try:
        stats = upsert_raw(conn, source=connector.source, obj=obj, records=page.records, run_id=run_id)
        if page.cursor is not None:
            name, value = page.cursor
            set_watermark(conn, connector.source, name, value, run_id)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    run.stats.add(stats)
    run.land_seconds += time.perf_counter() - started


def finish_run(conn: duckdb.DuckDBPyConnection, connector: CrmConnector, run: IngestRun) -> None:
    """Record the object's run (calls, budget, times) in ``ops.ingest_runs`` and log it."""
    call_stats = connector.stats(run.object)
    run.api_calls, run.retries = call_stats.api_calls, call_stats.retries
    run.min_api_calls = call_stats.min_calls
    run.finished_at = datetime.now(UTC)
    record_ingest_run(conn, run)
    log.info(
        "%s.%s: %s rows received, %s inserted, %s updated, %s deleted in %.1fs "
        "(%s calls, minimum %s; %.1fs reading, %.1fs landing)",
        run.source,
        run.object,
        run.stats.received,
        run.stats.inserted,
        run.stats.updated,
        run.stats.deleted,
        run.duration_seconds,
        run.api_calls,
        run.min_api_calls if run.min_api_calls is not None else "n/a",
        run.read_seconds,
        run.land_seconds,
    )


def ingest_source(
    connector: CrmConnector,
    warehouse: Warehouse,
    *,
    run_id: str,
    objects: Sequence[str] | None = None,
    full_refresh: bool = False,
    since: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> list[IngestRun]:
    """Land every requested object of one CRM, in the connector's order. Stops at the first failure."""
    wanted = list(objects) if objects else list(connector.objects)
    unknown = [o for o in wanted if o not in connector.objects]
    if unknown:
        raise ValueError(
            f"unknown {connector.source} object(s) {unknown}; known: {', '.join(connector.objects)}"
        )
    overrides = None
    if since is not None:
        value = connector.cursor_value(since)
        overrides = {name: value for obj in wanted for name in connector.cursor_names(obj)}
    if getattr(connector, "read_workers", 1) > 1 and len(wanted) > 1:
        ordered = [o for o in connector.objects if o in wanted]
        return ingest_concurrently(
            connector,
            warehouse,
            ordered,
            run_id=run_id,
            full_refresh=full_refresh,
            cursor_overrides=overrides,
            progress=progress,
        )
    runs: list[IngestRun] = []
    for obj in connector.objects:
        if obj in wanted:
            try:
                run = ingest_object(
                    connector,
                    warehouse,
                    obj,
                    run_id=run_id,
                    full_refresh=full_refresh,
                    cursor_overrides=overrides,
                    progress=progress,
                )
            except IngestError as failure:
                failure.runs = runs + failure.runs
                raise
            runs.append(run)
    return runs


@dataclass
class _Reader:
    """One object's read in a worker thread; the writer thread lands what it queues."""

    obj: str
    run: IngestRun
    done: bool = False
    error: BaseException | None = None


_DONE = object()


def ingest_concurrently(
    connector: CrmConnector,
    warehouse: Warehouse,
    objects: Sequence[str],
    *,
    run_id: str,
    full_refresh: bool = False,
    cursor_overrides: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> list[IngestRun]:
    """Read ``objects`` in ``connector.read_workers`` threads, land every page in this thread.

    Why: a CRM that limits calls per endpoint (Fxiaoke) gives each endpoint its own budget, so
    objects on different endpoints read at once finish in the time of the slowest endpoint, not the
    sum. DuckDB has one writer: the reader threads only queue pages (a bounded queue, so memory
    stays flat), and each page still commits with its cursor in one transaction. On the first
    failure the other readers stop after their current page; runs are recorded per object, in the
    connector's order, and :class:`IngestError` names the object that failed."""
    workers = min(int(getattr(connector, "read_workers", 1)), len(objects))
    pages: queue.Queue = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()
    readers = {obj: _Reader(obj, _new_run(connector, obj, run_id, full_refresh)) for obj in objects}
    with warehouse.connect() as conn:
        for obj in objects:
            ensure_raw_table(conn, raw_table_name(connector.source, obj))
        cursors = read_cursors(conn, connector.source)
        cursors.update(cursor_overrides or {})
        lent = _lend_warehouse(connector, conn)
        failed: _Reader | None = None
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{connector.source}-read")
        try:
            for obj in objects:
                pool.submit(_read_object, connector, readers[obj], cursors, full_refresh, pages, stop)
            failed = _write_pages(conn, connector, readers, pages, stop, run_id, progress)
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for name in lent:
                setattr(connector, name, None)
            for reader in readers.values():
                if reader.run.status == "running" and reader.done:
                    reader.run.status = "succeeded"
                elif reader.run.status == "running" and failed is not None:
                    reader.run.status, reader.run.error = "failed", f"stopped: {failed.obj} failed"
            started = [r for r in readers.values() if r.run.status != "running"]
            for reader in started:
                finish_run(conn, connector, reader.run)
    runs = [readers[o].run for o in objects if readers[o].run.status != "running"]
    if failed is not None:
        failure = IngestError(connector.source, failed.obj, failed.error or RuntimeError("failed"))
        failure.runs = runs
        raise failure from failed.error
    return runs


def _read_object(
    connector: CrmConnector,
    reader: _Reader,
    cursors: dict[str, str],
    full_refresh: bool,
    pages: queue.Queue,
    stop: threading.Event,
) -> None:
    """A worker: queue the object's pages (with their read time), then a done marker."""
    source = connector.pages(reader.obj, dict(cursors), full_refresh=full_refresh)
    try:
        for page, waited in timed_pages(source):
            if not _put(pages, (reader, page, waited), stop):
                return
    except BaseException as exc:  # handed to the writer, which fails the ingest naming the object
        reader.error = exc
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    _put(pages, (reader, _DONE, 0.0), stop)


def _put(pages: queue.Queue, item: tuple, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _write_pages(
    conn: duckdb.DuckDBPyConnection,
    connector: CrmConnector,
    readers: dict[str, _Reader],
    pages: queue.Queue,
    stop: threading.Event,
    run_id: str,
    progress: ProgressCallback | None,
) -> _Reader | None:
    """The one writer: land queued pages until every reader is done; the reader that failed, if any."""
    pending = len(readers)
    while pending:
        reader, page, waited = pages.get()
        if page is _DONE:
            pending -= 1
            if reader.error is not None:
                reader.run.status, reader.run.error = "failed", str(reader.error)
                stop.set()
                return reader
            reader.done = True
            continue
        reader.run.read_seconds += waited
        try:
            land_page(conn, connector, reader.obj, page, reader.run, run_id)
        except Exception as exc:
            reader.error = exc
            reader.run.status, reader.run.error = "failed", str(exc)
            stop.set()
            return reader
        if progress:
            progress(connector.source, reader.obj, reader.run.stats.received)
    return None
