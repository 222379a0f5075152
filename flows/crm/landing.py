"""Land CRM objects into the warehouse, a batch of pages at a time.

Each batch is one transaction: its rows are upserted and the connector's cursors are advanced in
the same commit (:mod:`flows.crm.page_batches` says why pages are batched and what keeps the result
the same as landing page by page). Killing the process at any point therefore leaves the warehouse
at the end of the last committed batch; the next run re-reads from that cursor (minus the
connector's overlap) and the idempotent upsert absorbs the overlap. Memory stays flat: at most one
batch per object is held.
"""

from __future__ import annotations

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
from flows.crm.landed_rows import lend_warehouse
from flows.crm.page_batches import BatchLimits, PageBatch, merged, repeats
from flows.warehouse.database import (
    OPS_SCHEMA,
    IngestRun,
    Warehouse,
    ensure_raw_table,
    raw_table_name,
    record_ingest_run,
    set_watermark,
    upsert_raw,
)
from flows.warehouse.duckdb_limits import landing_checkpoints

log = logging.getLogger(__name__)

#: Called after every committed batch of pages: (source, object, rows so far in this object).
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
    batch: BatchLimits | None = None,
) -> IngestRun:
    """Land one object, ``batch`` pages at a time (:mod:`flows.crm.page_batches`). Raises
    :class:`IngestError` after recording the failed run."""
    run = _new_run(connector, obj, run_id, full_refresh)
    with warehouse.connect() as conn:
        # An object the CRM has no records of still gets its (empty) raw table: "landed, zero rows"
        # is a fact the gate and dbt can see, unlike a table that does not exist.
        ensure_raw_table(conn, raw_table_name(connector.source, obj))
        cursors = read_cursors(conn, connector.source)
        cursors.update(cursor_overrides or {})
        lent = lend_warehouse(connector, conn)
        try:
            pages = timed_pages(connector.pages(obj, cursors, full_refresh=full_refresh))
            with landing_checkpoints(conn):
                _land_in_batches(conn, connector, obj, pages, run, run_id, progress, batch or BatchLimits())
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


def timed_pages(pages: Iterator[Page]) -> Iterator[tuple[Page, float]]:
    """Each page with the seconds spent waiting for it (the connector's HTTP and parsing)."""
    while True:
        started = time.perf_counter()
        try:
            page = next(pages)
        except StopIteration:
            return
        yield page, time.perf_counter() - started


def land_pages(
    conn: duckdb.DuckDBPyConnection,
    connector: CrmConnector,
    obj: str,
    pages: list[Page],
    run: IngestRun,
    run_id: str,
) -> None:
    """Consecutive pages of ``obj`` and their cursors in one transaction; the time counts as
    landing. If the batch fails, its pages are landed again one by one: the pages before the bad
    one commit, and the error raised is the bad page's, as if the pages had come one at a time."""
    started = time.perf_counter()
    records, cursors = merged(pages)
    conn.begin()
    try:
        stats = upsert_raw(conn, source=connector.source, obj=obj, records=records, run_id=run_id)
        for name, value in cursors:
            set_watermark(conn, connector.source, name, value, run_id)
        conn.commit()
    except Exception:
        conn.rollback()
        run.land_seconds += time.perf_counter() - started
        if len(pages) == 1:
            raise
        log.info(
            "%s.%s: a batch of %d pages failed to land; landing its pages one by one",
            connector.source,
            obj,
            len(pages),
        )
        for page in pages:
            land_pages(conn, connector, obj, [page], run, run_id)
        return
    except BaseException:
        conn.rollback()
        raise
    stats.unchanged += repeats(pages)
    run.stats.add(stats)
    run.land_seconds += time.perf_counter() - started


def _land_in_batches(
    conn: duckdb.DuckDBPyConnection,
    connector: CrmConnector,
    obj: str,
    pages: Iterator[tuple[Page, float]],
    run: IngestRun,
    run_id: str,
    progress: ProgressCallback | None,
    limits: BatchLimits,
) -> None:
    """Read ``obj``'s pages and land them in batches (:class:`PageBatch`). A read that fails
    still lands the pages read before the failure, as page-by-page landing did, then raises."""
    batch = PageBatch(limits)

    def land() -> None:
        land_pages(conn, connector, obj, batch.take(), run, run_id)
        if progress:
            progress(connector.source, obj, run.stats.received)

    try:
        for page, waited in pages:
            run.read_seconds += waited
            if not batch.accepts(page):
                land()
            batch.add(page)
            if batch.due():
                land()
    except Exception:
        if batch:
            try:
                land()
            except Exception:
                log.exception(
                    "%s.%s: landing the pages read before the failure failed", connector.source, obj
                )
        raise
    if batch:
        land()


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
    batch: BatchLimits | None = None,
) -> list[IngestRun]:
    """Land every requested object of one CRM, in the connector's order, ``batch`` pages at a time
    (default :class:`BatchLimits`; the flows pass the settings'). Stops at the first failure."""
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
            batch=batch,
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
                    batch=batch,
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
    batch: BatchLimits | None = None,
) -> list[IngestRun]:
    """Read ``objects`` in ``connector.read_workers`` threads, land their pages in this thread.

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
        lent = lend_warehouse(connector, conn)
        failed: _Reader | None = None
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{connector.source}-read")
        try:
            for obj in objects:
                pool.submit(_read_object, connector, readers[obj], cursors, full_refresh, pages, stop)
            limits = batch or BatchLimits()
            failed = _write_pages(conn, connector, readers, pages, stop, run_id, progress, limits)
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
    limits: BatchLimits,
) -> _Reader | None:
    """The one writer: land queued pages until every reader is done; the reader that failed, if any.

    Each object's pages gather in a batch of its own (:class:`PageBatch`), landed when it is due,
    when a page cannot join it, and when its reader is done. Not whenever the queue runs empty:
    a writer that kept up with its readers would then land page by page and pay each page's fixed
    cost in CPU again (docs/connectors.md, "Landing")."""
    batches = {obj: PageBatch(limits) for obj in readers}

    def land(reader: _Reader) -> bool:
        """Land the reader's batch; False (the reader failed) when landing raised."""
        try:
            land_pages(conn, connector, reader.obj, batches[reader.obj].take(), reader.run, run_id)
        except Exception as exc:
            reader.error = exc
            reader.run.status, reader.run.error = "failed", str(exc)
            stop.set()
            return False
        if progress:
            progress(connector.source, reader.obj, reader.run.stats.received)
        return True

    def fail(reader: _Reader) -> _Reader:
        """The other objects' pages already read still land, as they would have page by page."""
        for other in readers.values():
            if other is not reader and batches[other.obj]:
                try:
                    land_pages(conn, connector, other.obj, batches[other.obj].take(), other.run, run_id)
                except Exception:
                    log.exception(
                        "%s.%s: landing its pages read before %s failed",
                        connector.source,
                        other.obj,
                        reader.obj,
                    )
        return reader

    pending = len(readers)
    while pending:
        reader, page, waited = pages.get()
        batch = batches[reader.obj]
        if page is _DONE:
            pending -= 1
            if batch and not land(reader):
                return fail(reader)
            if reader.error is not None:
                reader.run.status, reader.run.error = "failed", str(reader.error)
                stop.set()
                return fail(reader)
            reader.done = True
            continue
        reader.run.read_seconds += waited
        if not batch.accepts(page) and not land(reader):
            return fail(reader)
        batch.add(page)
        if batch.due() and not land(reader):
            return fail(reader)
    return None
