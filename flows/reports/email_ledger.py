"""The e-mail ledger: every send attempt, in its own small SQLite file ``<home>/ledger/emails.sqlite3``.

Why not in the work warehouse (where ``ops.email_log`` used to be the only record): the warehouse is
rebuilt when it is corrupt or deleted, and a rerun that day would then send every report again.
The ledger outlives it, and a run-failed alert can be sent and recorded when the warehouse cannot
even be opened. A row is written *before* the SMTP conversation (``pending``) and completed after
it, so a process killed mid-send leaves a row that blocks a blind resend. ``ops.email_log`` stays a
copy for SQL users (written when the caller has a warehouse connection); the first time a ledger
meets a warehouse, that warehouse's ``ops.email_log`` is imported (migration). docs/reports.md.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from flows.config.settings import Settings

#: Statuses that say a message may be in the recipient's mailbox: never sent again without --resend.
MAY_HAVE_ARRIVED = ("sent", "ambiguous", "pending")
#: The recipient was told what this message would say by another one (the run-failed alert of a
#: run whose data-quality alert went out): not sent either, so a failure is alerted once.
COVERED = "covered"
_NOT_AGAIN = (*MAY_HAVE_ARRIVED, COVERED)

_DDL = """
create table if not exists email_log (
    attempt_id integer primary key autoincrement,
    kind text not null,
    period_key text not null,
    recipient text not null,
    subject text,
    message_id text,
    status text not null,
    error text,
    sent_at text not null
);
create index if not exists email_log_key on email_log (kind, period_key, recipient collate nocase);
create table if not exists ledger_meta (key text primary key, value text not null);
"""
_MIGRATED = "imported_ops_email_log"


def ledger_path(settings: Settings) -> Path:
    return settings.home_dir / "ledger" / "emails.sqlite3"


class EmailLedger:
    """One open ledger; use as a context manager. Every write is committed at once."""

    def __init__(self, settings: Settings, warehouse: duckdb.DuckDBPyConnection | None = None):
        self.path = ledger_path(settings)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)  # autocommit
        self._db.executescript(_DDL)
        self.warehouse = warehouse
        if warehouse is not None:
            ensure_email_log_table(warehouse)
            self._import_ops_email_log(warehouse)

    def __enter__(self) -> EmailLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def earlier_outcome(self, kind: str, period_key: str, recipient: str) -> str | None:
        """The status of an earlier attempt that may have delivered this message (or of the record
        that another message covered it), else None."""
        marks = ", ".join("?" for _ in _NOT_AGAIN)
        row = self._db.execute(
            f"select status from email_log where kind = ? and period_key = ? and recipient = ? collate nocase"
            f" and status in ({marks}) order by status = 'sent' desc, attempt_id desc limit 1",
            [kind, period_key, recipient, *_NOT_AGAIN],
        ).fetchone()
        return row[0] if row else None

    def begin(self, kind: str, period_key: str, recipient: str, subject: str, message_id: str) -> int:
        """Record an attempt about to start (``pending``); returns its id for :meth:`finish`."""
        return self._insert(kind, period_key, recipient, subject, message_id, "pending", None)

    def finish(self, attempt_id: int, status: str, error: str | None) -> None:
        """The outcome of a begun attempt (and its copy in the warehouse)."""
        self._db.execute(
            "update email_log set status = ?, error = ?, sent_at = ? where attempt_id = ?",
            [status, error, _now(), attempt_id],
        )
        self._copy(attempt_id)

    def skipped(
        self, kind: str, period_key: str, recipient: str, subject: str, status: str, error: str
    ) -> None:
        """A recipient not tried (already sent, or an earlier outcome is unknown)."""
        self._copy(self._insert(kind, period_key, recipient, subject, None, status, error))

    def covered(self, kind: str, period_key: str, recipient: str, by: str) -> None:
        """Record that ``recipient`` needs no ``kind`` message for ``period_key``: ``by`` (a sent
        message) told them already. :meth:`earlier_outcome` then returns ``covered``."""
        self._copy(self._insert(kind, period_key, recipient, None, None, COVERED, f"covered by {by}"))

    def _insert(self, *values: str | None) -> int:
        cursor = self._db.execute(
            "insert into email_log (kind, period_key, recipient, subject, message_id, status, error, sent_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, _now()],
        )
        return int(cursor.lastrowid or 0)

    def _copy(self, attempt_id: int) -> None:
        if self.warehouse is None:
            return
        row = self._db.execute(
            "select kind, period_key, recipient, subject, message_id, status, error from email_log"
            " where attempt_id = ?",
            [attempt_id],
        ).fetchone()
        self.warehouse.execute(
            "insert into ops.email_log (kind, period_key, recipient, subject, message_id, status, error,"
            " sent_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
            [*row, datetime.now(UTC)],
        )

    def _import_ops_email_log(self, warehouse: duckdb.DuckDBPyConnection) -> None:
        """Once per ledger: the history a warehouse from before the ledger holds."""
        if self._db.execute("select 1 from ledger_meta where key = ?", [_MIGRATED]).fetchone():
            return
        rows = warehouse.execute(
            "select kind, period_key, recipient, subject, message_id, status, error, sent_at"
            " from ops.email_log order by sent_at"
        ).fetchall()
        self._db.execute("begin")
        self._db.executemany(
            "insert into email_log (kind, period_key, recipient, subject, message_id, status, error, sent_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:7], r[7].astimezone(UTC).isoformat() if r[7] else _now()) for r in rows],
        )
        self._db.execute(
            "insert into ledger_meta values (?, ?)", [_MIGRATED, f"{len(rows)} rows at {_now()}"]
        )
        self._db.execute("commit")


def ensure_email_log_table(conn: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's copy of the ledger (``ops.email_log``), for SQL users."""
    conn.execute("create schema if not exists ops")
    conn.execute(
        """
        create table if not exists ops.email_log (
            kind varchar not null,
            period_key varchar not null,
            recipient varchar not null,
            subject varchar,
            message_id varchar,
            status varchar not null,
            error varchar,
            sent_at timestamptz not null
        )"""
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()
