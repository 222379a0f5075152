"""Zoho sandbox fidelity (crm_apis §4.1) and how the connector copes: concurrency cap, rolling
24 h credit budget, deleted/disabled users, pipelines and a custom stage, rich text truncation,
a ``+05:30`` org, duplicate ids across pages, a record both modified and deleted in one window."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from zoho_support import T0, FakeClock, api, latest, make_connector, run, token, zoho_company

from flows.crm.base import CrmError
from flows.crm.landing import ingest_object
from flows.sandbox.zoho.encoding.wire import RICH_TEXT_LIST_LIMIT, zoho_id
from flows.sandbox.zoho.protocol import CUSTOM_STAGE
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import Warehouse


class Clock(FakeClock):
    def monotonic(self) -> float:
        """The connector's token-expiry clock, moving with the sandbox's (a long wait expires it)."""
        return self.now.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZohoSandbox]:
    with ZohoSandbox(zoho_company(300, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        yield sb


# --- concurrency ------------------------------------------------------------------------------------------
def test_sandbox_concurrency_cap_answers_429(sandbox: ZohoSandbox):
    tok = token(sandbox)
    sandbox.faults.update({"concurrency_cap": 2, "delay_seconds": 0.3})
    results: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        resp = api(sandbox, "/Deals", tok, fields="Deal_Name,Modified_Time")
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) >= 2 and 429 in codes
    limited = next(r for r in results if r.status_code == 429).json()
    assert limited["code"] == "TOO_MANY_REQUESTS" and limited["details"] == {"limit": 2}
    assert sandbox.max_in_flight <= 2


def test_connector_stays_within_its_concurrency_cap(clock: FakeClock):
    """Stage history is fetched in parallel; with the connector's cap equal to the org's, no 429."""
    with ZohoSandbox(zoho_company(60, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        sb.faults.update({"concurrency_cap": 3, "delay_seconds": 0.02})
        conn = make_connector(sb, clock, max_concurrency=3)
        pages, _ = run(conn, "deal_stage_history")
        assert {k.split(":")[0] for k in latest(pages)} == set(sb.live_ids("Deals"))
        assert conn.stats("deal_stage_history").retries == 0
        assert 2 <= sb.max_in_flight <= 3
        print(f"history fetch: max in flight {sb.max_in_flight} (cap 3), 0 retries")


def test_connector_above_the_org_cap_recovers_through_429_backoff(clock: FakeClock):
    with ZohoSandbox(zoho_company(40, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        sb.faults.update({"concurrency_cap": 2, "delay_seconds": 0.05})
        conn = make_connector(sb, clock, max_concurrency=6)
        pages, _ = run(conn, "deal_stage_history")
        assert {k.split(":")[0] for k in latest(pages)} == set(sb.live_ids("Deals"))
        assert conn.stats("deal_stage_history").retries > 0 and sb.max_in_flight <= 2


# --- daily credits ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [True, False])
def test_sandbox_rolling_credit_budget(sandbox: ZohoSandbox, clock: FakeClock, retry_after: bool):
    sandbox.faults.update({"daily_credits": 3, "credit_retry_after": retry_after})
    for _ in range(3):
        assert api(sandbox, "/Deals", token(sandbox), fields="Deal_Name").status_code == 200
        clock.advance(3600)
    tok = token(sandbox)
    spent = api(sandbox, "/Deals", tok, fields="Deal_Name")
    assert spent.status_code == 429 and spent.json()["code"] == "TOO_MANY_REQUESTS"
    assert "24 hour" in spent.json()["message"]
    if retry_after:
        assert spent.headers["Retry-After"] == str(21 * 3600)  # until the first call ages out
    else:
        assert "Retry-After" not in spent.headers
    clock.advance(21 * 3600)  # the window rolls: the first credit is back, only that one
    tok = token(sandbox)
    assert api(sandbox, "/Deals", tok, fields="Deal_Name").status_code == 200
    assert api(sandbox, "/Deals", tok, fields="Deal_Name").status_code == 429
    assert sandbox.credits_used() == 3


def test_credit_exhaustion_waited_out_honouring_retry_after(sandbox: ZohoSandbox, clock: FakeClock):
    sandbox.faults.update({"daily_credits": 2, "credit_retry_after": True})
    conn = make_connector(sandbox, clock, rate_limit_max_wait=2 * 86400, monotonic=clock.monotonic)
    pages, _ = run(conn, "deals")  # fields + 2 keyset pages + deleted > 2 credits
    assert sorted(latest(pages)) == sandbox.live_ids("Deals")
    waits = [s for s in clock.sleeps if s > 60]
    assert waits and all(s == int(s) for s in waits)  # the server's Retry-After, not a backoff
    assert conn.stats("deals").retries == len(clock.sleeps)


def test_credit_exhaustion_without_retry_after_backs_off_then_fails_clearly(
    sandbox: ZohoSandbox, clock: FakeClock
):
    sandbox.faults.update({"daily_credits": 2})
    conn = make_connector(sandbox, clock, rate_limit_max_wait=600, backoff_max=120)
    with pytest.raises(CrmError, match="still rate-limited after waiting") as err:
        run(conn, "deals")
    assert "TOO_MANY_REQUESTS" in str(err.value)
    assert sum(clock.sleeps) <= 600 and len(clock.sleeps) >= 4
    steps = clock.sleeps
    assert all(b >= a / 2 for a, b in itertools.pairwise(steps))  # growing, jittered
    # with a budget long enough for the rolling window, exponential backoff alone gets through
    clock.sleeps.clear()
    conn = make_connector(
        sandbox, clock, rate_limit_max_wait=2 * 86400, backoff_max=3600, monotonic=clock.monotonic
    )
    pages, _ = run(conn, "deals")
    assert sorted(latest(pages)) == sandbox.live_ids("Deals")
    assert sum(clock.sleeps) >= 20 * 3600


# --- users ------------------------------------------------------------------------------------------------
def test_deleted_and_disabled_users_and_orphaned_deals(sandbox: ZohoSandbox, clock: FakeClock):
    sandbox.faults.update({"deleted_users": True})
    conn = make_connector(sandbox, clock)
    users = latest(run(conn, "users")[0])
    statuses = {r.record["status"] for r in users.values()}
    assert {"deleted", "disabled", "active"} <= statuses
    deleted = sandbox.deleted_user_id()
    assert users[deleted].record["status"] == "deleted"
    deals = latest(run(conn, "deals")[0])
    assert any(r.record["Owner"]["id"] == deleted for r in deals.values())
    tok = token(sandbox)
    only = api(sandbox, "/users", tok, type="DeletedUsers").json()["users"]
    assert [u["id"] for u in only] == [deleted]
    active = api(sandbox, "/users", tok, type="ActiveUsers").json()["users"]
    assert all(u["status"] == "active" for u in active)


# --- pipelines --------------------------------------------------------------------------------------------
def test_two_pipelines_and_a_custom_stage_absent_from_them(sandbox: ZohoSandbox):
    tok = token(sandbox)
    missing = api(sandbox, "/settings/pipeline", tok)
    assert missing.status_code == 400 and missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    wrong = api(sandbox, "/settings/pipeline", tok, layout_id="5725767014999999999")
    assert wrong.json()["code"] == "INVALID_DATA"
    pipelines = api(sandbox, "/settings/pipeline", tok, layout_id=sandbox.layout_id()).json()["pipeline"]
    assert [p["display_value"] for p in pipelines] == ["Standard", "Renewals"]
    stages = {m["actual_value"] for p in pipelines for m in p["maps"]}
    standard = {m["actual_value"]: m for m in pipelines[0]["maps"]}
    assert standard["Id. Decision Makers"]["display_value"] == "Identify Decision Makers"
    assert standard["Closed Won"]["forecast_type"] == "Closed Won"
    sandbox.faults.update({"pipeline_variety": True})
    deals = api(sandbox, "/Deals", tok, fields="Stage,Pipeline", per_page=200).json()["data"]
    assert CUSTOM_STAGE not in stages and any(d["Stage"] == CUSTOM_STAGE for d in deals)
    assert {d["Pipeline"]["id"] for d in deals} == {p["id"] for p in pipelines}


# --- data realism -----------------------------------------------------------------------------------------
def test_rich_text_cut_at_500_in_lists_only(sandbox: ZohoSandbox):
    tok = token(sandbox)
    listed = api(sandbox, "/Deals", tok, fields="Description", per_page=200).json()["data"]
    long = [d for d in listed if d["Description"]]
    assert long and all(len(d["Description"]) == RICH_TEXT_LIST_LIMIT for d in long)
    full = api(sandbox, f"/Deals/{long[0]['id']}", tok).json()["data"][0]
    assert len(full["Description"]) > RICH_TEXT_LIST_LIMIT
    assert full["Description"].startswith(long[0]["Description"])


def test_india_org_offset_gives_the_same_instants(clock: FakeClock):
    company = zoho_company(50, modified=T0 - timedelta(days=1), spaced=True)
    got = {}
    for tz in (None, "Asia/Kolkata"):
        with ZohoSandbox(company, clock=clock, org_tz=tz) as sb:
            pages, cursors = run(make_connector(sb, clock), "deals")
            recs = latest(pages)
            got[tz] = ({k: r.modified_at for k, r in recs.items()}, cursors)
            if tz:
                assert all(r.record["Modified_Time"].endswith("+05:30") for r in recs.values())
                clock.advance(60)
                sb.simulate("deals", update=3)
                again, _ = run(make_connector(sb, clock), "deals", cursors)
                assert len(latest(again)) >= 3  # the UTC cursor works against a +05:30 org
    assert got[None] == got["Asia/Kolkata"]


def test_duplicate_id_across_pages_lands_once(clock: FakeClock, tmp_path: Path):
    with ZohoSandbox(zoho_company(650, modified=T0 - timedelta(hours=1)), clock=clock) as sb:
        sb.faults.update({"duplicate_ids": 5})
        conn = make_connector(sb, clock)
        pages, _ = run(conn, "deals")
        ids = [r.id for p in pages for r in p.records]
        assert len(ids) > len(set(ids)) and sb.faults.duplicate_ids < 5
        wh = Warehouse(tmp_path / "w.duckdb")
        sb.faults.update({"duplicate_ids": 5})
        ingest_object(make_connector(sb, clock), wh, "deals", run_id="r1")
        with wh.connect() as db:
            rows, distinct = db.execute("select count(*), count(distinct id) from raw.zoho_deals").fetchone()
        assert rows == distinct == 650


def test_record_modified_and_deleted_in_the_same_window(sandbox: ZohoSandbox, clock: FakeClock, tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    ingest_object(make_connector(sandbox, clock), wh, "deals", run_id="r1")
    clock.advance(3600)
    gone = sandbox.simulate("deals", update=2, modify_then_delete=3)["modified_and_deleted"]
    clock.advance(60)
    run2 = ingest_object(make_connector(sandbox, clock), wh, "deals", run_id="r2")
    assert run2.stats.deleted == 3
    with wh.connect() as db:
        flagged = db.execute(
            "select id from raw.zoho_deals where is_deleted and deleted_at is not null order by id"
        ).fetchall()
        live = db.execute("select count(*) from raw.zoho_deals where not is_deleted").fetchone()[0]
    assert [r[0] for r in flagged] == sorted(gone)
    assert live == len(sandbox.live_ids("Deals"))
    assert gone[0] not in sandbox.live_ids("Deals") and zoho_id("Deals", 1) is not None
