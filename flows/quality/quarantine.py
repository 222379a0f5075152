"""Quarantine: raw rows that failed a row-level check, kept aside instead of flowing into the marts.

Why the shape:

* **one table, ``ops.quarantine``**, one row per (raw row, failed expectation). It keeps the whole
  record as it was landed (``record`` JSON), the expectation, the reason and the run that
  quarantined it, so nothing is dropped silently and a data engineer can see exactly what was
  held back and why.
* **active until fixed**: a row stays excluded (``released_at is null``) until a later gate run
  evaluates it again and the check passes (the CRM record was corrected, the stage was added to
  the mapping seed, the owner's user landed). The gate re-evaluates every active quarantined row
  on every run, even when its record did not change, so a fix in *reference* data releases it.
* **dbt excludes active rows** through the macro ``exclude_quarantined(source_name, table_name)``
  in ``dbt_project/macros/quarantine.sql`` (staging models of transactional objects call it), so
  commissions and KPIs never include a quarantined deal.
* **what quarantines**: only objects whose suite is marked ``quarantine`` in
  :data:`flows.quality.sources.SUITE_SOURCES`: transactional rows, where excluding one does not break
  other rows — deals / opportunities and the order-to-cash objects (Zoho sales orders and
  invoices, Fxiaoke sales orders, invoices and payments). Master data (users, employees,
  accounts) is never quarantined: dropping a rep or an account would silently orphan every deal
  that points at it, so its row-level failures are reported as warnings instead.
* **children drop with their parent** where the child means nothing alone: a deal's stage history
  with the deal, a Fxiaoke payment with its quarantined invoice (the staging models pass the
  parent's id and table to ``exclude_quarantined``). Not the other way round: a quarantined
  payment leaves its invoice in (its balance then reads as unpaid until the payment is fixed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

QUARANTINE_TABLE = "ops.quarantine"

#: record fields tried, in order, to give a quarantined row a human label in reports.
_LABEL_KEYS = ("Deal_Name", "name", "Account_Name", "full_name", "Full_Name", "Subject")
#: objects whose label is shown as is (a deal's name); other objects' labels get the object's name.
_DEAL_OBJECTS = ("deals", "opportunities")


@dataclass(frozen=True)
class Offence:
    """One raw row failing one row-level expectation."""

    id: str
    expectation: str  # e.g. "expect_column_values_to_be_in_set(stage)"
    reason: str  # e.g. "stage not in the pipeline's stage list: 'Won-ish'"
    severity: str  # severity of the check at this run (a quarantine check escalated is critical)


def ensure_quarantine_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists ops")
    conn.execute(
        f"""
        create table if not exists {QUARANTINE_TABLE} (
            run_id varchar not null,
            source varchar not null,
            object varchar not null,
            raw_table varchar not null,
            id varchar not null,
            expectation varchar not null,
            severity varchar not null,
            reason varchar not null,
            record json,
            record_hash varchar,
            quarantined_at timestamptz not null,
            released_at timestamptz,
            released_run_id varchar
        )"""
    )


def apply_quarantine(
    conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    source: str,
    obj: str,
    raw_table: str,
    evaluated_ids: Iterable[str],
    offences: Sequence[Offence],
    checked_expectations: Iterable[str] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Record this run's offences and release the evaluated rows that now pass.

    ``raw_table`` is ``schema.table`` (``raw.zoho_deals``); ``evaluated_ids`` are the ids whose
    row-level checks ran in this gate run (only those can be released). A row already actively
    quarantined for the same expectation is not inserted twice. Returns counts
    ``{"quarantined": new rows, "released": rows released, "active": active rows of the table}``.
    Only entries of ``checked_expectations`` (all, when None) can be released: a check that was
    skipped this run (its reference data missing) keeps its rows quarantined.
    """
    ensure_quarantine_table(conn)
    now = now or datetime.now(UTC)
    table_name = raw_table.split(".", 1)[-1]
    failing = pd.DataFrame(
        [(o.id, o.expectation, o.reason, o.severity) for o in offences],
        columns=["id", "expectation", "reason", "severity"],
    ).drop_duplicates(["id", "expectation"])
    evaluated = pd.DataFrame({"id": sorted({str(i) for i in evaluated_ids})}, dtype="object")
    checked = pd.DataFrame({"expectation": sorted(set(checked_expectations or []))}, dtype="object")
    conn.register("_q_failing", failing)
    conn.register("_q_evaluated", evaluated)
    conn.register("_q_checked", checked)
    try:
        released = conn.execute(
            f"""
            update {QUARANTINE_TABLE} as q set released_at = ?, released_run_id = ?
            where q.raw_table = ? and q.released_at is null
              and q.id in (select id from _q_evaluated)
              and (? or q.expectation in (select expectation from _q_checked))
              and not exists (
                  select 1 from _q_failing f where f.id = q.id and f.expectation = q.expectation
              )
            """,
            [now, run_id, table_name, checked_expectations is None],
        ).fetchall()[0]
        inserted = conn.execute(
            f"""
            insert into {QUARANTINE_TABLE}
                (run_id, source, object, raw_table, id, expectation, severity, reason, record, record_hash,
                 quarantined_at)
            select ?, ?, ?, ?, f.id, f.expectation, f.severity, f.reason, r.record, r.record_hash, ?
            from _q_failing f
            left join {raw_table} r on r.id = f.id
            where not exists (
                select 1 from {QUARANTINE_TABLE} q
                where q.raw_table = ? and q.id = f.id and q.expectation = f.expectation
                  and q.released_at is null
            )
            """,
            [run_id, source, obj, table_name, now, table_name],
        ).fetchall()[0]
        active = conn.execute(
            f"select count(distinct id) from {QUARANTINE_TABLE} where raw_table = ? and released_at is null",
            [table_name],
        ).fetchall()[0]
    finally:
        conn.unregister("_q_failing")
        conn.unregister("_q_evaluated")
        conn.unregister("_q_checked")
    return {
        "quarantined": int(inserted[0]) if inserted else 0,
        "released": int(released[0]) if released else 0,
        "active": int(active[0]) if active else 0,
    }


def active_ids(conn: duckdb.DuckDBPyConnection, raw_table: str) -> list[str]:
    """Ids of ``raw.<table>`` currently quarantined (empty when there is no quarantine table)."""
    if not _exists(conn):
        return []
    table_name = raw_table.split(".", 1)[-1]
    rows = conn.execute(
        f"select distinct id from {QUARANTINE_TABLE} where raw_table = ? and released_at is null",
        [table_name],
    ).fetchall()
    return [r[0] for r in rows]


def quarantine_summary(conn: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[dict]:
    """The rows currently held back from the marts, one dict per quarantined record.

    For the manager report's footnote and the data-engineer alert. Each dict has ``source``,
    ``object``, ``id`` (the CRM's id, as in ``raw.*``), ``label`` (deal name or similar),
    ``owner_id`` (the CRM owner's id: Zoho ``Owner.id``, Fxiaoke ``owner[0]``), ``deal_id`` and
    ``rep_id`` (the same as the marts spell them, ``<source>:<crm id>``), ``reasons`` (list of str),
    ``expectations`` (list of str), ``severity`` (worst), ``quarantined_at`` (first, ISO),
    ``first_run_id`` and ``new_in_run`` (True when ``run_id`` quarantined it). Ordered by source,
    object, id. Empty when nothing is quarantined (or the table does not exist yet).
    """
    if not _exists(conn):
        return []
    rows = conn.execute(
        f"""
        select source, object, id, expectation, reason, severity, record, quarantined_at, run_id
        from {QUARANTINE_TABLE}
        where released_at is null
        order by source, object, id, quarantined_at, expectation
        """
    ).fetchall()
    out: dict[tuple[str, str, str], dict] = {}
    for source, obj, rid, expectation, reason, severity, record, at, qrun in rows:
        key = (source, obj, rid)
        item = out.get(key)
        if item is None:
            label = _label(record)
            noun = obj.replace("_", " ").removesuffix("s")
            if obj not in _DEAL_OBJECTS and not (label or "").lower().startswith(noun.split()[-1]):
                label = f"{noun} {label or rid}"  # "payment 20261103-000023": say what the record is
            item = out[key] = {
                "source": source,
                "object": obj,
                "id": rid,
                "label": label,
                "owner_id": _owner(record),
                # the marts' keys (int_deals_unioned / int_sales_reps_unioned prefix the CRM ids)
                "deal_id": f"{source}:{rid}",
                "rep_id": None if _owner(record) is None else f"{source}:{_owner(record)}",
                "reasons": [],
                "expectations": [],
                "severity": severity,
                "quarantined_at": at.isoformat() if hasattr(at, "isoformat") else str(at),
                "first_run_id": qrun,
                "new_in_run": False,
            }
        item["reasons"].append(reason)
        item["expectations"].append(expectation)
        if severity == "critical":
            item["severity"] = "critical"
        if run_id is not None and qrun == run_id:
            item["new_in_run"] = True
    return list(out.values())


def quarantine_markdown(rows: Sequence[dict], limit: int = 50) -> str:
    """A short Markdown table of :func:`quarantine_summary` rows (for the gate summary / alert)."""
    if not rows:
        return ""
    lines = [
        f"### Quarantined rows ({len(rows)}): excluded from commissions and KPIs until fixed in the CRM",
        "",
        "| source | object | id | record | reason | new this run |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows[:limit]:
        cells = (
            r["source"],
            r["object"],
            r["id"],
            r["label"] or "",
            "; ".join(r["reasons"]),
            "yes" if r["new_in_run"] else "",
        )
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    if len(rows) > limit:
        lines.append(f"| … | | | | {len(rows) - limit} more rows in ops.quarantine | |")
    return "\n".join(lines) + "\n"


def _label(record: Any) -> str | None:
    if record is None:
        return None
    data = json.loads(record) if isinstance(record, str) else record
    if not isinstance(data, dict):
        return None
    for key in _LABEL_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _owner(record: Any) -> str | None:
    data = json.loads(record) if isinstance(record, str) else record
    if not isinstance(data, dict):
        return None
    owner = data.get("Owner") or data.get("owner")
    if isinstance(owner, dict):
        owner = owner.get("id")
    elif isinstance(owner, list):
        owner = owner[0] if owner else None
    return None if owner is None else str(owner)


def _exists(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'ops' and table_name = 'quarantine'"
        ).fetchall()[0][0]
    )
