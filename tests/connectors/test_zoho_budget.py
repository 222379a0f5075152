"""Zoho's API budget: stage history read only for deals whose history can have changed, and the
calls per object reported next to the minimum that could have read the same records."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from zoho_support import FakeClock, make_connector, zoho_company

from flows.crm.landing import ingest_source
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import Warehouse

N_DEALS = 250
OBJECTS = ["users", "deals", "deal_stage_history"]


@pytest.fixture
def sandbox():
    with ZohoSandbox(zoho_company(N_DEALS)) as sb:
        yield sb


def _history_calls(sb: ZohoSandbox) -> dict[str, int]:
    return {p: n for p, n in sb.request_counts().items() if p.endswith("/Stage_History")}


def _ingest(sb: ZohoSandbox, warehouse: Warehouse, run_id: str) -> dict:
    connector = make_connector(sb, FakeClock())
    try:
        return {r.object: r for r in ingest_source(connector, warehouse, run_id=run_id, objects=OBJECTS)}
    finally:
        connector.close()


def test_second_nightly_reads_history_of_the_edited_deals_only(sandbox: ZohoSandbox, tmp_path: Path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    first = _ingest(sandbox, warehouse, "night-1")
    assert sum(_history_calls(sandbox).values()) == N_DEALS, "first load: every deal's history, once"
    history = first["deal_stage_history"]
    # hand count: 250 deals, none with more than 200 history rows -> 250 calls
    assert history.min_api_calls == history.api_calls == N_DEALS
    # deals: the field list + listing 250 rows in pages of 200 (250 // 200 + 1 = 2) + the recycle
    # bin (0 // 200 + 1 = 1), plus the token if this object fetched it
    deals = first["deals"]
    assert deals.min_api_calls == 1 + 2 + 1
    assert deals.api_calls >= deals.min_api_calls

    before = _history_calls(sandbox)
    edited = sandbox.simulate("deals", update=3)["updated"]  # a stage/amount change: new history rows
    second = _ingest(sandbox, warehouse, "night-2")

    after = _history_calls(sandbox)
    fetched = {p for p in after if after[p] != before.get(p, 0)}
    assert fetched == {f"/crm/v8/Deals/{d}/Stage_History" for d in edited}
    assert sum(after.values()) - sum(before.values()) == 3
    history = second["deal_stage_history"]
    assert history.api_calls == history.min_api_calls == 3, "exactly the minimum: one call per edited deal"

    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        landed = {r[0] for r in db.execute("select id from raw.zoho_deal_stage_history").fetchall()}
        runs = db.execute(
            "select object, api_calls, min_api_calls, read_seconds >= 0, land_seconds >= 0 "
            "from ops.ingest_runs where run_id = 'night-2' and object = 'deal_stage_history'"
        ).fetchall()
    expected = {f"{d}:{h['id']}" for d in sandbox.live_ids("Deals") for h in sandbox.stage_history(d)}
    assert landed == expected, "untouched deals keep their history; edited deals gain the new rows"
    assert runs == [("deal_stage_history", 3, 3, True, True)]


def test_nothing_changed_means_no_history_calls(sandbox: ZohoSandbox, tmp_path: Path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _ingest(sandbox, warehouse, "night-1")
    before = sum(_history_calls(sandbox).values())
    second = _ingest(sandbox, warehouse, "night-2")
    assert sum(_history_calls(sandbox).values()) == before
    assert second["deal_stage_history"].api_calls == second["deal_stage_history"].min_api_calls == 0
