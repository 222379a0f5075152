"""Zoho stage history read concurrently within Zoho's documented concurrency limits (issue 14).

The figures come from Zoho CRM "API Limits" (https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html,
"Concurrency"): 5 calls in flight per app on the Free edition, 10 Standard, 15 Professional,
20 Enterprise, 25 Ultimate, and a sub-concurrency limit of 10 on every edition for Get Records with
``sort_by``/``cvid``; a call beyond a limit is answered 429 ``TOO_MANY_REQUESTS``
(flows/crm/zoho/limits.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr
from zoho_support import FakeClock, make_connector, zoho_company

from flows.config.settings import Settings
from flows.crm.landing import IngestError, ingest_source
from flows.crm.zoho.connector import ZohoConnector
from flows.crm.zoho.limits import CONCURRENCY_LIMITS, MAX_CONCURRENCY, SAFE_CONCURRENCY
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import Warehouse

N_DEALS = 130
PER_PAGE = 40  # 130 deals -> history pages of 40, 40, 40, 10: the fetch-ahead crosses batch ends
OBJECTS = ["users", "deals", "deal_stage_history"]


@pytest.fixture
def sandbox():
    with ZohoSandbox(zoho_company(N_DEALS)) as sb:
        yield sb


def _land(sb: ZohoSandbox, warehouse: Warehouse, run_id: str, objects=OBJECTS, **overrides) -> dict:
    connector = make_connector(sb, FakeClock(), per_page=PER_PAGE, **overrides)
    try:
        return {r.object: r for r in ingest_source(connector, warehouse, run_id=run_id, objects=objects)}
    finally:
        connector.close()


def _history(warehouse: Warehouse) -> list[tuple]:
    """The landed history table without its landing columns (run id, landing time)."""
    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        return db.execute(
            "select id, record::varchar, modified_at, is_deleted, record_hash "
            "from raw.zoho_deal_stage_history order by id"
        ).fetchall()


def _watermark(warehouse: Warehouse) -> str | None:
    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        row = db.execute(
            "select watermark from ops.watermarks where source = 'zoho' and object = 'deal_stage_history'"
        ).fetchone()
    return row[0] if row else None


def _expected_ids(sb: ZohoSandbox) -> set[str]:
    """The oracle: every live deal's history rows as the sandbox holds them."""
    return {f"{d}:{h['id']}" for d in sb.live_ids("Deals") for h in sb.stage_history(d)}


def test_concurrent_reading_lands_the_same_rows_as_sequential(sandbox: ZohoSandbox, tmp_path: Path):
    sandbox.faults.update({"delay_seconds": 0.01})  # a round trip long enough for calls to overlap
    sequential, concurrent = Warehouse(tmp_path / "seq.duckdb"), Warehouse(tmp_path / "conc.duckdb")
    _land(sandbox, sequential, "seq", max_concurrency=1)
    assert sandbox.max_in_flight == 1
    sandbox.reset()
    sandbox.faults.update({"delay_seconds": 0.01})
    runs = _land(sandbox, concurrent, "conc")  # the connector's default: SAFE_CONCURRENCY

    rows = _history(concurrent)
    assert rows == _history(sequential), "same rows, same content, whatever order the calls completed"
    assert {r[0] for r in rows} == _expected_ids(sandbox)
    # one call per deal either way (no deal here has more than 200 history rows): 130 calls
    assert runs["deal_stage_history"].api_calls == N_DEALS
    assert 2 <= sandbox.max_in_flight <= SAFE_CONCURRENCY == 5
    assert sandbox.concurrency_rejections == 0 and runs["deal_stage_history"].retries == 0


def test_default_settings_stay_within_the_sandbox_org_limit(sandbox: ZohoSandbox):
    """The sandbox org is a Free-edition org (limit 5), the setting's default is the same 5."""
    settings = Settings(
        zoho_accounts_url=sandbox.accounts_url,
        zoho_client_id=SecretStr(sandbox.CLIENT_ID),
        zoho_client_secret=SecretStr(sandbox.CLIENT_SECRET),
        zoho_refresh_token=SecretStr(sandbox.REFRESH_TOKEN),
    )
    assert settings.zoho_concurrency == SAFE_CONCURRENCY == CONCURRENCY_LIMITS["free"] == 5
    assert sandbox.faults.concurrency_cap == 5 and sandbox.faults.sub_concurrency_cap == 10
    sandbox.faults.update({"delay_seconds": 0.05})
    conn = ZohoConnector.from_settings(settings, sleep=FakeClock().sleep)
    assert conn.max_concurrency == 5
    threads = [
        threading.Thread(target=conn._deal_history, args=("deal_stage_history", d))
        for d in sandbox.live_ids("Deals")[:40]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sandbox.max_in_flight == 5, "40 callers, 5 slots: the limit reached, never passed"
    assert sandbox.concurrency_rejections == 0
    conn.close()


def test_setting_outside_the_documented_range_is_refused():
    assert MAX_CONCURRENCY == CONCURRENCY_LIMITS["ultimate"] == 25
    assert Settings(zoho_concurrency=25).zoho_concurrency == 25
    for wrong in (0, 26):
        with pytest.raises(ValueError, match="zoho_concurrency"):
            Settings(zoho_concurrency=wrong)


def test_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SALESOPS_ZOHO_CONCURRENCY", "20")
    assert Settings().zoho_concurrency == 20


def test_a_connector_above_the_limit_is_caught_by_the_sandbox(sandbox: ZohoSandbox, tmp_path: Path):
    """What makes a test fail when a change lets the connector exceed the org's limit."""
    sandbox.faults.update({"delay_seconds": 0.02})
    runs = _land(sandbox, Warehouse(tmp_path / "w.duckdb"), "over", max_concurrency=12)
    assert sandbox.concurrency_rejections > 0 and sandbox.max_in_flight <= 5
    assert runs["deal_stage_history"].retries > 0  # the 429s were waited out, nothing lost
    assert runs["deal_stage_history"].api_calls > N_DEALS


def test_sort_by_listings_are_held_to_the_sub_concurrency_limit(sandbox: ZohoSandbox):
    """At 15 in flight (a Professional org), keyset listings (``sort_by``) still stop at 10."""
    sandbox.faults.update({"concurrency_cap": 15, "delay_seconds": 0.3})
    conn = make_connector(sandbox, FakeClock(), max_concurrency=15)
    conn._access_token("deals")  # one token up front, not 30 callers racing for it
    params = {"fields": "Modified_Time", "per_page": 5, "sort_by": "Modified_Time", "sort_order": "asc"}
    threads = [threading.Thread(target=conn._get, args=("deals", "/Deals", params, {})) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # over the Free org's 5 (the cap here is 15), never over the sub-concurrency limit's 10
    assert 6 <= sandbox.max_sub_in_flight <= 10 and sandbox.concurrency_rejections == 0
    conn.close()


def test_sandbox_refuses_beyond_either_limit(sandbox: ZohoSandbox):
    """``over_concurrency(calls in flight, sort_by listings in flight, sub=this call is one)``."""
    free = sandbox.faults.over_concurrency(5, 0, sub=False)  # a 6th call on the Free org's 5
    assert free is not None and free.status == 429 and free.body is not None
    assert b'"TOO_MANY_REQUESTS"' in free.body and b'"limit": 5' in free.body
    assert sandbox.faults.over_concurrency(4, 0, sub=False) is None
    sandbox.faults.update({"concurrency_cap": 15})  # a Professional org
    sub = sandbox.faults.over_concurrency(14, 10, sub=True)  # an 11th sort_by listing
    assert sub is not None and sub.status == 429 and sub.body is not None
    assert b"sub-concurrency" in sub.body and b'"limit": 10' in sub.body
    assert sandbox.faults.over_concurrency(14, 10, sub=False) is None  # Stage_History: not a sub call
    assert sandbox.faults.over_concurrency(14, 9, sub=True) is None


def test_a_failed_call_mid_way_keeps_the_watermark_of_the_last_whole_batch(
    sandbox: ZohoSandbox, tmp_path: Path
):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _land(sandbox, warehouse, "deals", objects=["users", "deals"])
    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        order = [r[0] for r in db.execute("select id from raw.zoho_deals order by loaded_at, id").fetchall()]
    broken = order[PER_PAGE + 5]  # in the second batch of 40
    # more 500s than the connector's 1 + 3 attempts: that deal's call fails for good
    sandbox.faults.update({"server_errors": 10, "fault_path": f"/Deals/{broken}/Stage_History"})
    with pytest.raises(IngestError, match=r"zoho\.deal_stage_history failed: .*HTTP 500"):
        _land(sandbox, warehouse, "night-1", objects=["deal_stage_history"])

    first_batch = set(order[:PER_PAGE])
    landed_deals = {r[0].split(":")[0] for r in _history(warehouse)}
    assert landed_deals == first_batch, "only the whole first batch landed; nothing of the failed one"
    assert _watermark(warehouse).endswith(f"|{order[PER_PAGE - 1]}"), "the cursor: first batch's last deal"

    sandbox.reset()  # the outage is over; the request counters start again from 0
    runs = _land(sandbox, warehouse, "night-2", objects=["deal_stage_history"])
    assert {r[0] for r in _history(warehouse)} == _expected_ids(sandbox)
    # the resume starts after the first batch: 130 - 40 = 90 history calls (+ this connector's token),
    # none for the first 40 deals
    history_calls = {p: n for p, n in sandbox.request_counts().items() if p.endswith("/Stage_History")}
    assert sum(history_calls.values()) == N_DEALS - PER_PAGE == 90
    assert {p.split("/")[-2] for p in history_calls} == set(order[PER_PAGE:])
    assert runs["deal_stage_history"].api_calls == 90 + 1
    assert _watermark(warehouse).endswith(f"|{order[-1]}")


def test_a_failure_in_the_first_batch_moves_nothing(sandbox: ZohoSandbox, tmp_path: Path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    _land(sandbox, warehouse, "deals", objects=["users", "deals"])
    with duckdb.connect(str(warehouse.path), read_only=True) as db:
        first = db.execute("select id from raw.zoho_deals order by loaded_at, id limit 1").fetchone()[0]
    sandbox.faults.update({"server_errors": 10, "fault_path": f"/Deals/{first}/Stage_History"})
    with pytest.raises(IngestError):
        _land(sandbox, warehouse, "night-1", objects=["deal_stage_history"])
    assert _history(warehouse) == [] and _watermark(warehouse) is None
