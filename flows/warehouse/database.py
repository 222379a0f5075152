"""DuckDB warehouse access: raw landing tables, watermarks and run bookkeeping.

Raw landing keeps one row per CRM record (its latest version) in ``raw.<source>_<object>``:
the record's id, the record itself as JSON, its modified time, a soft-delete flag and the load
metadata. Loading is an upsert keyed on ``id`` that

* never goes backwards: an incoming version older than the stored one is ignored, so replaying
  an overlapping window (or a page that moved during paging) changes nothing;
* is idempotent: an identical record (same content hash) is counted as unchanged and not rewritten;
* marks deletes instead of dropping rows, so a deleted deal is visible as deleted, with its time.

Bookkeeping lives in the ``ops`` schema: watermarks per (source, object) and one row per ingest
of an object. Callers write a page and advance the watermark in the same transaction, which is
what makes a killed run resumable without loss or duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from flows.config.settings import Settings, get_settings
from flows.warehouse import duckdb_limits
from flows.warehouse.runlock import writer_lock

RAW_SCHEMA = "raw"
OPS_SCHEMA = "ops"


@dataclass(frozen=True)
class RawRecord:
    """One CRM record as landed: ``record`` is the API's JSON object, untouched."""

    id: str
    record: dict
    modified_at: datetime | None
    deleted_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def canonical(self) -> str:
        """The record as ``raw`` stores it (:func:`canonical_json`); a reader that wrote that text
        itself returns it (``flows.crm.zoho.bulk_csv.EncodedRecord``)."""
        return canonical_json(self.record)


@dataclass
class UpsertStats:
    """What one upsert did; added up per object into an ingest-run row."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def add(self, other: UpsertStats) -> None:
        for name in ("received", "inserted", "updated", "deleted", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class IngestRun:
    """One row of ``ops.ingest_runs``: the operator's view of what an object's load did."""

    run_id: str
    source: str
    object: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    mode: str = "incremental"
    api_calls: int = 0
    retries: int = 0
    stats: UpsertStats = field(default_factory=UpsertStats)
    error: str | None = None
    #: the fewest API calls that could have read what this run read (the connector's count; None
    #: when the connector does not say): a run far above it is spending the CRM's API budget
    min_api_calls: int | None = None
    #: seconds spent waiting for the connector's next page (HTTP, the CRM's share) vs committing
    #: pages into the warehouse (the pipeline's own share)
    read_seconds: float = 0.0
    land_seconds: float = 0.0

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return round((end - self.started_at).total_seconds(), 3)


def raw_table_name(source: str, obj: str) -> str:
    """``raw_table_name('zoho', 'deals') == 'raw.zoho_deals'``."""
    return f"{RAW_SCHEMA}.{source}_{obj}"


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: raw timestamps must carry a time zone")
    return ts.astimezone(UTC)


#: Records are stored and hashed as one text: keys sorted, no spaces (one encoding per record
#: instead of two, a tenth of the landing's CPU at 1M deals; issue 14). One encoder, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def canonical_json(record: dict) -> str:
    """A record as stored in ``raw``: keys sorted, compact, non-ASCII kept."""
    return _CANONICAL.encode(record)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hash(record: dict) -> str:
    """Content hash of a record, stable under key order: the SHA-256 of its canonical JSON."""
    return _sha256(canonical_json(record))


class Warehouse:
    """The DuckDB file a run writes to. One writer process at a time (a DuckDB rule)."""

    def __init__(self, path: Path, settings: Settings | None = None):
        self.path = Path(path)
        #: DuckDB limits (flows.warehouse.duckdb_limits); None: from the environment at connect
        self.settings = settings

    @contextmanager
    def connect(self, holder: str = "a salesops command") -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, holding the run lock beside the file (``run.lock``) until it is closed:
        inside a run of this process it nests in the run's lock; elsewhere it fails at once with
        :class:`~flows.warehouse.runlock.RunLocked` naming the run that holds the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with writer_lock(self.path.parent / "run.lock", holder):
            settings = self.settings or get_settings()
            duckdb_limits.prune_spill_directories(settings, self.path)
            conn = duckdb_limits.connect(self.path, settings)
            try:
                conn.execute("set TimeZone = 'UTC'")
                ensure_ops_schema(conn)
                yield conn
            finally:
                conn.close()


def ensure_ops_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"create schema if not exists {RAW_SCHEMA}")
    conn.execute(f"create schema if not exists {OPS_SCHEMA}")
    conn.execute(
        f"""
        create table if not exists {OPS_SCHEMA}.watermarks (
            source varchar not null,
            object varchar not null,
            watermark varchar not null,
            updated_at timestamptz not null,
            run_id varchar not null,
            primary key (source, object)
        )"""
    )
    conn.execute(
        f"""
        create table if not exists {OPS_SCHEMA}.ingest_runs (
            run_id varchar not null,
            source varchar not null,
            object varchar not null,
            mode varchar not null,
            status varchar not null,
            started_at timestamptz not null,
            finished_at timestamptz,
            duration_seconds double,
            api_calls integer,
            retries integer,
            rows_received integer,
            rows_inserted integer,
            rows_updated integer,
            rows_deleted integer,
            rows_unchanged integer,
            error varchar
        )"""
    )
    # Added by issue 14 (API budget and landing throughput); older warehouses get them on open.
    added = (("min_api_calls", "integer"), ("read_seconds", "double"), ("land_seconds", "double"))
    for column, kind in added:
        conn.execute(f"alter table {OPS_SCHEMA}.ingest_runs add column if not exists {column} {kind}")


def ensure_raw_table(conn: duckdb.DuckDBPyConnection, table: str) -> None:
    conn.execute(
        f"""
        create table if not exists {table} (
            source varchar not null,
            object varchar not null,
            id varchar not null primary key,
            record json not null,
            modified_at timestamptz,
            is_deleted boolean not null default false,
            deleted_at timestamptz,
            record_hash varchar not null,
            run_id varchar not null,
            loaded_at timestamptz not null
        )"""
    )


def _batch_frame(records: Iterable[RawRecord]) -> pd.DataFrame:
    """Latest version per id within the batch (a page may repeat an id: a real Zoho quirk)."""
    latest: dict[str, RawRecord] = {}
    for rec in records:
        if not rec.id:
            raise ValueError(f"record without id: {json.dumps(rec.record, default=str)[:200]}")
        prev = latest.get(rec.id)
        if prev is None or _version_key(rec) >= _version_key(prev):
            latest[rec.id] = rec
    columns: dict[str, list] = {name: [] for name in _BATCH_COLUMNS}
    ids, texts, modified, flags, deleted, hashes = columns.values()
    for r in latest.values():  # column lists: no dict per row
        text = r.canonical()
        ids.append(r.id)
        texts.append(text)
        modified.append(_utc(r.modified_at))
        flags.append(r.deleted_at is not None)
        deleted.append(_utc(r.deleted_at))
        hashes.append(_sha256(text) + (":deleted" if r.deleted_at is not None else ""))
    frame = pd.DataFrame(columns)
    for col in ("modified_at", "deleted_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


_BATCH_COLUMNS = ("id", "record", "modified_at", "is_deleted", "deleted_at", "record_hash")


def _version_key(rec: RawRecord) -> tuple[datetime, int]:
    ts = rec.deleted_at or rec.modified_at or datetime.min.replace(tzinfo=UTC)
    return (_utc(ts), 1 if rec.is_deleted else 0)  # type: ignore[return-value]


def upsert_raw(
    conn: duckdb.DuckDBPyConnection,
    *,
    source: str,
    obj: str,
    records: Iterable[RawRecord],
    run_id: str,
    loaded_at: datetime | None = None,
) -> UpsertStats:
    """Merge a batch into ``raw.<source>_<obj>``. Call inside the caller's transaction."""
    table = raw_table_name(source, obj)
    ensure_raw_table(conn, table)
    records = list(records)
    frame = _batch_frame(records)
    stats = UpsertStats(received=len(records))
    if frame.empty:
        return stats
    loaded_at = loaded_at or datetime.now(UTC)
    conn.register("_salesops_batch", frame)
    try:
        counts = _classify_batch(conn, table)
        # a statement with nothing to do still costs its fixed time: a first load inserts only
        if counts.get("insert"):
            _insert_new(conn, table, source=source, obj=obj, run_id=run_id, loaded_at=loaded_at)
        if counts.get("update") or counts.get("delete"):
            _update_changed(conn, table, run_id=run_id, loaded_at=loaded_at)
    finally:
        conn.unregister("_salesops_batch")
        # _salesops_apply stays until the next batch replaces it or the connection closes: one
        # statement less per page (a 200-record REST page pays about 1.5 ms per statement)
    stats.inserted = counts.get("insert", 0)
    stats.updated = counts.get("update", 0)
    stats.deleted = counts.get("delete", 0)
    stats.unchanged = counts.get("unchanged", 0) + counts.get("stale", 0)
    return stats


def _classify_batch(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """Join the registered batch to ``table`` into ``_salesops_apply`` with one action per row
    (insert, unchanged, stale, delete, update); returns the count of each action. One statement
    (the join in a CTE), as each statement is a fixed cost every landed page pays."""
    # A version is applied when it is new, or not older than what is stored and different.
    conn.execute(
        f"""
        create or replace temp table _salesops_apply as
        with batch_vs_stored as (
            select
                b.*,
                t.id is not null as present,
                t.record_hash as old_hash,
                coalesce(t.deleted_at, t.modified_at) as old_version_at
            from _salesops_batch as b
            left join {table} as t on t.id = b.id
        )
        select *,
            case
                when not present then 'insert'
                when record_hash = old_hash then 'unchanged'
                when old_version_at is not null
                     and coalesce(deleted_at, modified_at) is not null
                     and coalesce(deleted_at, modified_at) < old_version_at then 'stale'
                when is_deleted then 'delete'
                else 'update'
            end as action
        from batch_vs_stored
        """
    )
    return dict(conn.execute("select action, count(*) from _salesops_apply group by 1").fetchall())


def _insert_new(
    conn: duckdb.DuckDBPyConnection, table: str, *, source: str, obj: str, run_id: str, loaded_at: datetime
) -> None:
    conn.execute(
        f"""
        insert into {table} (
            source, object, id, record, modified_at, is_deleted, deleted_at, record_hash, run_id,
            loaded_at
        )
        select ?, ?, id, record, modified_at, is_deleted, deleted_at, record_hash, ?, ?
        from _salesops_apply where action = 'insert'
        """,
        [source, obj, run_id, loaded_at],
    )


def _update_changed(conn: duckdb.DuckDBPyConnection, table: str, *, run_id: str, loaded_at: datetime) -> None:
    """Deletes keep the last live record body; updates replace it (and revive a restored record)."""
    conn.execute(
        f"""
        update {table} as t set
            record = case when a.is_deleted then t.record else a.record end,
            modified_at = case when a.is_deleted then t.modified_at else a.modified_at end,
            is_deleted = a.is_deleted,
            deleted_at = a.deleted_at,
            record_hash = a.record_hash,
            run_id = ?,
            loaded_at = ?
        from _salesops_apply as a
        where t.id = a.id and a.action in ('update', 'delete')
        """,
        [run_id, loaded_at],
    )


def get_watermark(conn: duckdb.DuckDBPyConnection, source: str, obj: str) -> str | None:
    row = conn.execute(
        f"select watermark from {OPS_SCHEMA}.watermarks where source = ? and object = ?", [source, obj]
    ).fetchone()
    return row[0] if row else None


def set_watermark(conn: duckdb.DuckDBPyConnection, source: str, obj: str, value: str, run_id: str) -> None:
    """Advance a watermark. Call in the same transaction as the rows it covers."""
    conn.execute(
        f"""
        insert into {OPS_SCHEMA}.watermarks (source, object, watermark, updated_at, run_id)
        values (?, ?, ?, ?, ?)
        on conflict (source, object) do update set
            watermark = excluded.watermark, updated_at = excluded.updated_at, run_id = excluded.run_id
        """,
        [source, obj, value, datetime.now(UTC), run_id],
    )


def record_ingest_run(conn: duckdb.DuckDBPyConnection, run: IngestRun) -> None:
    s = run.stats
    conn.execute(
        f"""
        insert into {OPS_SCHEMA}.ingest_runs (
            run_id, source, object, mode, status, started_at, finished_at, duration_seconds,
            api_calls, retries, rows_received, rows_inserted, rows_updated, rows_deleted,
            rows_unchanged, error, min_api_calls, read_seconds, land_seconds
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            run.run_id,
            run.source,
            run.object,
            run.mode,
            run.status,
            run.started_at,
            run.finished_at,
            run.duration_seconds,
            run.api_calls,
            run.retries,
            s.received,
            s.inserted,
            s.updated,
            s.deleted,
            s.unchanged,
            run.error,
            run.min_api_calls,
            round(run.read_seconds, 3),
            round(run.land_seconds, 3),
        ],
    )


def ingest_run_as_dict(run: IngestRun) -> dict:
    """Flat dict for Prefect table artifacts and the CLI summary."""
    data = {k: v for k, v in asdict(run).items() if k != "stats"}
    data.update({f"rows_{k}": v for k, v in asdict(run.stats).items()})
    data["duration_seconds"] = run.duration_seconds
    data["read_seconds"] = round(run.read_seconds, 3)
    data["land_seconds"] = round(run.land_seconds, 3)
    return data


def stored_live_ids(conn: duckdb.DuckDBPyConnection, source: str) -> Callable[[str], set[str]]:
    """A ``known_ids`` hook reading the warehouse through an open DuckDB connection.

    ``stored_live_ids(conn)(obj)`` is the set of ids in ``raw.<source>_<obj>`` not yet marked
    deleted (empty when the table does not exist). The ingest step can pass it for a
    ``--full-refresh`` so that rows deleted permanently in the CRM get marked deleted.
    """

    def known_ids(obj: str) -> set[str]:
        schema, table = raw_table_name(source, obj).split(".", 1)
        exists = conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
        if not exists:
            return set()
        rows = conn.execute(f"select id from {schema}.{table} where not is_deleted").fetchall()
        return {str(r[0]) for r in rows}

    return known_ids
