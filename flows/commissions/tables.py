"""The finance tables the commission engine owns (schema ``finance``, never written by dbt):
``commission_lines`` (the ledger as of the last engine run), ``closed_statement_lines`` (the
insert-only snapshots of closed periods), ``commission_periods`` and ``commission_warnings``
(what the last run could not pay or would pay suspiciously; docs/commission_engine.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from operator import attrgetter

import duckdb
import pandas as pd

from flows.commissions.lines import LINE_COLUMNS, Line

SCHEMA = "finance"
LINES = f"{SCHEMA}.commission_lines"
NEXT = f"{SCHEMA}.commission_lines_next"  # the lines of a run in progress (replacing_lines)
CLOSED = f"{SCHEMA}.closed_statement_lines"
PERIODS = f"{SCHEMA}.commission_periods"
WARNINGS = f"{SCHEMA}.commission_warnings"

_COLUMN_TYPES = {
    "commission_line_id": "varchar not null",
    "line_type": "varchar not null",
    "rep_id": "varchar not null",
    "period_month": "date not null",
    "deal_id": "varchar",
    "credit_id": "varchar",
    "credit_kind": "varchar",
    "credit_basis": "varchar",
    "credit_date": "date",
    "plan_id": "varchar",
    "plan_version": "integer",
    "component": "varchar",
    "component_type": "varchar",
    "tier_position": "varchar",
    "tier_number": "integer",
    "band_lower": "decimal(18,4)",
    "band_upper": "decimal(18,4)",
    "rate": "decimal(9,6)",
    "weight": "decimal(9,4)",
    "multiplier": "decimal(9,4)",
    "credit_amount": "decimal(18,2)",
    "split_share": "decimal(9,6)",
    "original_amount": "decimal(18,2)",
    "original_currency": "varchar",
    "fx_rate": "decimal(18,8)",
    "target_amount": "decimal(18,2)",
    "attainment": "decimal(18,6)",
    "running_before": "decimal(18,2)",
    "running_after": "decimal(18,2)",
    "base_amount": "decimal(18,2)",
    "commission_amount": "decimal(18,2) not null",
    "currency": "varchar not null",
    "related_line_id": "varchar",
    "source_period": "date",
    "explanation": "varchar not null",
}
assert tuple(_COLUMN_TYPES) == LINE_COLUMNS


def line_columns_ddl() -> str:
    """The columns of ``finance.commission_lines`` with their types (also the bench baseline's table)."""
    return ", ".join(f"{c} {t}" for c, t in _COLUMN_TYPES.items())


def _ledger_ddl() -> str:
    """The columns of ``commission_lines`` (and of its staging table, which replaces it)."""
    return f"({line_columns_ddl()}, run_date date, calculated_at timestamptz)"


def ensure_ledger(conn: duckdb.DuckDBPyConnection) -> None:
    """Create the finance tables if they do not exist (never alters or empties them)."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(f"create table if not exists {LINES} {_ledger_ddl()}")
    conn.execute(
        f"create table if not exists {CLOSED} ({line_columns_ddl()}, run_date date, "
        "calculated_at timestamptz, closed_at timestamptz not null, primary key (commission_line_id))"
    )
    conn.execute(
        f"create table if not exists {PERIODS} (period_month date primary key, status varchar not null, "
        "closed_at timestamptz not null, closed_by varchar, line_count integer not null, "
        "total_amount decimal(18,2) not null)"
    )


def find_table(conn, schema: str, table: str) -> str | None:
    """The quoted name of ``schema.table`` (or dbt's ``main_<schema>``), ``None`` when absent."""
    for s in (schema, f"main_{schema}"):
        hit = conn.execute(
            "select 1 from information_schema.tables where table_schema = ? and table_name = ?", [s, table]
        ).fetchone()
        if hit:
            return f'"{s}"."{table}"'
    return None


def dict_rows(conn, sql: str, params=None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def line_from_row(row: dict) -> Line:
    return Line(**{c: row[c] for c in LINE_COLUMNS})


def closed_periods(conn) -> set[date]:
    ensure_ledger(conn)
    return {r[0] for r in conn.execute(f"select period_month from {PERIODS}").fetchall()}


#: lines converted and inserted at a time: the text columns of a chunk, not of the whole ledger, are
#: in memory at once (16 DuckDB vectors of 2,048 rows)
CHUNK = 32_768


def write_lines(conn, lines: list[Line], run_date: date) -> None:
    """Replace ``finance.commission_lines`` with ``lines`` (one transaction)."""
    with replacing_lines(conn, run_date) as add:
        add(lines)


@contextmanager
def replacing_lines(conn, run_date: date) -> Iterator[Callable[[list[Line]], None]]:
    """Replace ``finance.commission_lines`` by the lines given to the yielded function: the
    nightly calculates and adds them a group of reps at a time (:mod:`flows.commissions.chunks`).

    Each group's lines are committed to a staging table (``finance.commission_lines_next``,
    created as ``ensure_ledger`` creates the ledger) that replaces the ledger in one transaction
    at the end (dropped and renamed: nothing copied), so a failure (or a kill) before
    the end leaves ``commission_lines`` as it was. Not one transaction around every group: DuckDB
    keeps a transaction's uncommitted rows in memory (and more than it reports), ~2.8 KB per line,
    so the engine's memory followed the whole ledger (1.6 GiB of the 1.9 GiB at 1M deals, issue
    14); committed rows go to disk at checkpoints. A staging table a killed run left is dropped by
    the next one. The lines given are turned into text columns at once (the caller frees them)
    and inserted by :class:`_Writer` in a thread while the caller calculates the next group; the
    swap waits for the last insert, and a failure waits for the insert in flight before the
    staging table is dropped."""
    ensure_ledger(conn)
    now = str(datetime.now(UTC))
    day = str(run_date)
    conn.execute(f"drop table if exists {NEXT}")
    conn.execute(f"create table {NEXT} {_ledger_ddl()}")
    writer = _Writer(conn)
    try:

        def add(lines: list[Line]) -> None:
            frames = [
                pd.DataFrame(
                    {**line_columns(lines[start : start + CHUNK]), "run_date": day, "calculated_at": now},
                    dtype=object,
                )
                for start in range(0, len(lines), CHUNK)
            ]
            writer.write(frames)

        yield add
        writer.wait()
        # the staging table becomes the ledger (its definition is the ledger's): no copy of the lines
        conn.execute("begin transaction")
        try:
            conn.execute(f"drop table {LINES}")
            conn.execute(f"alter table {NEXT} rename to {LINES.removeprefix(SCHEMA + '.')}")
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
    finally:
        writer.close()
        conn.execute(f"drop table if exists {NEXT}")


class _Writer:
    """Inserts a group's lines (as text frames) into the staging table on a connection of its
    own (a DuckDB cursor), in a thread, while the caller calculates the next group: DuckDB
    releases the GIL while it stores and commits the rows (its write-ahead log, its checkpoints:
    most of the insert's time), so the two overlap (docs/commission_engine.md). One group in
    flight at a time: :meth:`write` waits for the previous group first, so besides the group
    being written at most the next group's frames are held, and the groups are committed in
    order, each chunk in its own transaction as before. An insert's failure is raised by the next
    :meth:`write` or :meth:`wait`."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.cursor: duckdb.DuckDBPyConnection | None = None
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def write(self, frames: list[pd.DataFrame]) -> None:
        """Insert ``frames`` (a group's chunks) in the thread, once the group before is in."""
        self.wait()
        if not frames:
            return
        if self.cursor is None:
            self.cursor = self.conn.cursor()
        self.thread = threading.Thread(target=self._insert, args=(frames,), name="commission-lines-writer")
        self.thread.start()

    def _insert(self, frames: list[pd.DataFrame]) -> None:
        cursor = self.cursor
        try:
            while frames:
                cursor.register("_commission_lines_rows", frames.pop(0))  # freed once written
                try:
                    cursor.execute(f"insert into {NEXT} by name select * from _commission_lines_rows")
                finally:
                    cursor.unregister("_commission_lines_rows")
        except BaseException as failure:  # raised in the caller's thread by wait()
            self.failure = failure

    def wait(self) -> None:
        """Wait for the group in flight; raise its failure."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def close(self) -> None:
        """Wait for the group in flight (its failure, if the run is failing anyway, is dropped
        for the run's own) and close the cursor, before the staging table is dropped."""
        try:
            if self.thread is not None:
                self.thread.join()
                self.thread = None
        finally:
            self.failure = None
            if self.cursor is not None:
                self.cursor.close()
                self.cursor = None


_TEXT_TYPES = {str, type(None)}
_DATE_TYPES = {date, type(None)}
_GETTERS = {name: attrgetter(name) for name in LINE_COLUMNS}


class _IsoDates(dict):
    """date -> its ISO text, each distinct date formatted once (a ledger has a few hundred)."""

    def __missing__(self, day: date | None) -> str | None:
        text = self[day] = None if day is None else str(day)
        return text


def line_columns(lines: list[Line]) -> dict[str, list]:
    """The lines as one list per column, values as text (or None) that the insert casts to the
    column types: exact decimals, no float on the way. Built column by column (one C-level pass
    per column; a text column is passed on as it is): a dict per line and a transposition of
    the rows was most of the nightly's writing time (docs/commission_engine.md)."""
    out: dict[str, list] = {}
    iso = _IsoDates()
    for name in LINE_COLUMNS:
        values = list(map(_GETTERS[name], lines))
        types = set(map(type, values))
        if types <= _DATE_TYPES:
            values = list(map(iso.__getitem__, values))
        elif not types <= _TEXT_TYPES:
            values = [None if v is None else v if type(v) is str else str(v) for v in values]
        out[name] = values
    return out


def write_warnings(conn, rows: list[tuple], run_date: date) -> None:
    """Replace ``finance.commission_warnings`` with ``rows`` (warning_code, period_month, rep_id,
    subject, message) of this run."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(
        f"create table if not exists {WARNINGS} (warning_code varchar not null, period_month date, "
        "rep_id varchar, subject varchar not null, message varchar not null, run_date date)"
    )
    conn.execute("begin transaction")
    try:
        conn.execute(f"delete from {WARNINGS}")
        if rows:
            conn.executemany(
                f"insert into {WARNINGS} values (?, ?, ?, ?, ?, ?)", [(*r, run_date) for r in rows]
            )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
