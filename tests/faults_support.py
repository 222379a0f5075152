"""Shared helpers of the fault tests (tests/faults/): CRM edits aimed at one record, and the
ledger and publish facts the invariants compare."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.zoho.server import ZohoSandbox

#: the small demo company of the fault tests (the e2e company with half the deals)
SMALL = {"seed": 42, "reps": 24, "deals": 120}


def delete_zoho_record(sb: ZohoSandbox, module: str, rid: str, *, permanent: bool = False) -> None:
    """Delete one chosen Zoho record "now", as a user of the CRM would (``simulate`` picks at random)."""
    with sb._lock:
        sb._delete(module, rid, sb.now(), permanent)


def delete_fxiaoke_record(sb: FxiaokeSandbox, api_name: str, rid: str) -> None:
    """Delete one chosen Fxiaoke record for good (``/delete``, not 作废): it vanishes from data/query.
    The sandbox's kept orders are told, as ``simulate`` tells them (flows/sandbox/fxiaoke/store.py):
    otherwise the ``_id`` order the deletion sweep pages would still list the record."""
    with sb._lock:
        store = sb._state.data.objects[api_name]
        pos = store.position(rid)
        before = {pos: dict(store.at(pos))}
        del store[rid]
        sb._state.orders.moved(api_name, store, before)


def paid_deals(work: Path, period_from: date | None = None, period_to: date | None = None) -> dict[str, date]:
    """Zoho deals with a paid (positive) commission line, and the period of that line."""
    sql = (
        "select deal_id, min(period_month) from finance.commission_lines where line_type = 'commission' "
        "and commission_amount > 0 and deal_id like 'zoho:%' group by 1 order by 1"
    )
    with duckdb.connect(str(work)) as conn:  # the config the pipeline uses (same process)
        rows = conn.execute(sql).fetchall()
    lo, hi = period_from or date.min, period_to or date.max
    return {d: p for d, p in rows if lo <= p <= hi}


def ledger(work: Path) -> list[tuple]:
    """Every ledger line: (line id, type, period, deal, amount)."""
    with duckdb.connect(str(work)) as conn:  # the config the pipeline uses (same process)
        return conn.execute(
            "select commission_line_id, line_type, period_month, deal_id, commission_amount "
            "from finance.commission_lines order by 1"
        ).fetchall()


def closed_snapshot(work: Path) -> list[tuple]:
    """The closed periods' lines exactly as the ledger shows them (must never change)."""
    with duckdb.connect(str(work)) as conn:  # the config the pipeline uses (same process)
        return conn.execute(
            "select l.commission_line_id, l.commission_amount from finance.commission_lines as l "
            "join finance.commission_periods as p on p.period_month = l.period_month order by 1"
        ).fetchall()


def published_runs(home: Path) -> set[str]:
    """The run ids the published files carry: the DuckDB file, the manifest and each Parquet file
    (its ``salesops_run_id`` key-value metadata); row counts must agree. One publish = one run id."""
    runs: set[str] = set()
    database = home / "warehouse.duckdb"
    if not database.exists():
        return runs
    with duckdb.connect(str(database), read_only=True) as conn:
        runs.add(conn.execute("select run_id from main.salesops_publish").fetchone()[0])
        counts = {
            name: conn.execute(f'select count(*) from marts."{name}"').fetchone()[0]
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    manifest = json.loads((home / "marts" / "_manifest.json").read_text("utf-8"))
    runs.add(manifest["run_id"])
    assert {n: t["rows"] for n, t in manifest["tables"].items()} == counts, "manifest and DuckDB differ"
    with duckdb.connect() as mem:
        for name, rows in counts.items():
            parquet = home / "marts" / f"{name}.parquet"
            assert mem.execute(f"select count(*) from '{parquet}'").fetchone()[0] == rows, name
            meta = mem.execute(
                f"select value::varchar from parquet_kv_metadata('{parquet}') "
                "where key::varchar = 'salesops_run_id'"
            ).fetchall()
            runs.update(v for (v,) in meta)
    return runs
