"""What a connector may read of the warehouse while the ingest step lands it.

Why a module of its own: the landing loop lends these hooks to a connector that asks for them
(Zoho's stage history reads which deals landed; Fxiaoke's deletion sweep reads the ids stored
live), and each reads through a DuckDB cursor of its own so that a reader thread may call it while
the writer commits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import duckdb

from flows.crm.base import CrmConnector
from flows.warehouse.database import raw_table_name, stored_live_ids

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

    def values(self, obj: str, ids: Sequence[str], keys: Sequence[str]) -> list[tuple[str, list]]:
        """``(id, [record[key] for key in keys])`` of the landed rows of ``obj`` with these ids
        (deleted ones included), a missing key as None: the names a bulk export's lookups need,
        extracted by DuckDB instead of decoding whole records in Python (an account's or
        contact's record is a few KB; a 1M-deal export names ~100k of them)."""
        table = self._table(obj)
        if table is None or not ids:
            return []
        picked = ", ".join("json_extract(record, ?)::varchar" for _ in keys)
        paths = [f"$.{json.dumps(key)}" for key in keys]
        rows = self._query(
            f"select id, {picked} from {table} where id in (select unnest(?))", [*paths, list(ids)]
        )
        return [(rid, [None if v is None else json.loads(v) for v in values]) for rid, *values in rows]

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


def lend_warehouse(connector: CrmConnector, conn: duckdb.DuckDBPyConnection) -> list[str]:
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
