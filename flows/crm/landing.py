"""Land CRM objects into the warehouse, page by page.

Each page is one transaction: its rows are upserted and the connector's cursor is advanced in
the same commit. Killing the process at any point therefore leaves the warehouse at the end of
the last committed page; the next run re-reads from that cursor (minus the connector's overlap)
and the idempotent upsert absorbs the overlap. Memory stays flat: nothing is accumulated across
pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from flows.crm.base import CrmConnector
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
    run = IngestRun(
        run_id=run_id,
        source=connector.source,
        object=obj,
        started_at=datetime.now(UTC),
        mode="full_refresh" if full_refresh else "incremental",
    )
    with warehouse.connect() as conn:
        # An object the CRM has no records of still gets its (empty) raw table: "landed, zero rows"
        # is a fact the gate and dbt can see, unlike a table that does not exist.
        ensure_raw_table(conn, raw_table_name(connector.source, obj))
        cursors = read_cursors(conn, connector.source)
        cursors.update(cursor_overrides or {})
        # A full refresh or a deletion sweep can find records deleted for good in the CRM (no delete
        # feed): a connector that wants the ids stored live gets them, read between its page commits.
        reconciles = getattr(connector, "known_ids", False) is None
        if reconciles:
            connector.known_ids = stored_live_ids(conn, connector.source)  # type: ignore[attr-defined]
        try:
            for page in connector.pages(obj, cursors, full_refresh=full_refresh):
                conn.begin()
                try:
                    stats = upsert_raw(
                        conn, source=connector.source, obj=obj, records=page.records, run_id=run_id
                    )
                    if page.cursor is not None:
                        name, value = page.cursor
                        set_watermark(conn, connector.source, name, value, run_id)
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
                run.stats.add(stats)
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
            if reconciles:
                connector.known_ids = None  # type: ignore[attr-defined]
            call_stats = connector.stats(obj)
            run.api_calls, run.retries = call_stats.api_calls, call_stats.retries
            run.finished_at = datetime.now(UTC)
            record_ingest_run(conn, run)
            log.info(
                "%s.%s: %s rows received, %s inserted, %s updated, %s deleted in %.1fs (%s calls)",
                run.source,
                obj,
                run.stats.received,
                run.stats.inserted,
                run.stats.updated,
                run.stats.deleted,
                run.duration_seconds,
                run.api_calls,
            )
    return run


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
