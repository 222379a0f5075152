"""Fxiaoke order-to-cash objects, leads, contacts, personnel, stage changes and custom objects.

Sandbox encoding is checked against the company it serves (string amounts, dates at midnight
UTC+8, lookups that resolve), then the connector lands each object completely, incrementally
and, on a full refresh with ``known_ids``, with tombstones for rows that vanished.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fxiaoke_support import AS_OF, START, FakeClock, collect, post

from flows.crm.base import CrmError
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.crm.fxiaoke.objects import CUSTOM_QUERY_PATH
from flows.crm.fxiaoke.values import fxiaoke_date, ms_to_datetime
from flows.crm.landing import ingest_object
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.wire import (
    CRM_LOG_PATH,
    QUERY_PATH,
    TOKEN_PATH,
    VISIT_OBJECT,
    object_id,
    open_user_id,
    to_ms,
)
from flows.warehouse.database import RawRecord, Warehouse, stored_live_ids

NEW_OBJECTS = (
    "personnel",
    "contacts",
    "leads",
    "opportunity_stage_changes",
    "sales_orders",
    "invoices",
    "payments",
)


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=11, reps=8, deals=700, as_of=AS_OF)


def post_json(sb: FxiaokeSandbox, path: str, body: dict) -> dict:
    resp = post(sb, path, body)
    assert resp.status_code == 200
    return resp.json()


def auth(sb: FxiaokeSandbox) -> dict:
    tok = post_json(
        sb, TOKEN_PATH, {"appId": sb.APP_ID, "appSecret": sb.APP_SECRET, "permanentCode": sb.PERMANENT_CODE}
    )
    return {
        "corpAccessToken": tok["corpAccessToken"],
        "corpId": tok["corpId"],
        "currentOpenUserId": sb.ADMIN_OPEN_USER_ID,
    }


# --- sandbox encoding -------------------------------------------------------------------------------------


def test_order_to_cash_encoding_matches_the_company(sandbox: FxiaokeSandbox, company: Company):
    fx = company.for_crm("fxiaoke")
    deal_ids = {object_id("OpportunityObj", d.key, d.created_at) for d in fx.deals}
    orders = {r["_id"]: r for r in sandbox.records("sales_orders")}
    invoices = {r["_id"]: r for r in sandbox.records("invoices")}
    payments = sandbox.records("payments")
    assert len(orders) == len(fx.sales_orders) and len(invoices) == len(fx.invoices)
    assert len(payments) == len(fx.payments) > 0
    by_key = {object_id("SalesOrderObj", o.key, o.created_at): o for o in fx.sales_orders}
    cancelled = [o for o in fx.sales_orders if o.status == "Cancelled"]
    assert cancelled, "the seed should include a cancelled order"
    for rid, rec in orders.items():
        order = by_key[rid]
        assert isinstance(rec["order_amount"], str) and Decimal(rec["order_amount"]) == order.amount
        assert fxiaoke_date(rec["order_time"]) == order.order_date  # midnight UTC+8, no day shift
        assert rec["opportunity_id"] in deal_ids and rec["mc_currency"] == "CNY"
        # Decision: a cancelled order stays a live record; the status and the time say it was cancelled.
        assert rec["life_status"] == "normal" and rec["is_deleted"] is False
        if order.status == "Cancelled":
            assert (rec["order_status"], rec["order_status__r"]) == ("cancelled", "已作废")
            assert rec["field_cancelled_time__c"] == to_ms(order.cancelled_at)
        else:
            assert rec["order_status"] in {"approved", "delivered"} and rec["field_cancelled_time__c"] is None
    for rec in invoices.values():
        assert rec["order_id"] in orders and isinstance(rec["invoice_amount"], str)
        assert fxiaoke_date(rec["field_due_date__c"]) >= fxiaoke_date(rec["invoice_date"])
    for rec in payments:
        assert rec["order_id"] in orders and rec["field_invoice_id__c"] in invoices
        assert isinstance(rec["payment_amount"], str) and isinstance(rec["payment_time"], int)
    paid = {p.paid_on for p in fx.payments}
    assert {fxiaoke_date(r["payment_time"]) for r in payments} == paid


def test_leads_contacts_personnel_and_account_fields(sandbox: FxiaokeSandbox, company: Company):
    fx = company.for_crm("fxiaoke")
    opp_ids = {r["_id"] for r in sandbox.records("opportunities")}
    leads = sandbox.records("leads")
    assert len(leads) == len(fx.leads)
    converted = [r for r in leads if r["leads_status"] == "transformed"]
    assert converted and all(r["opportunity_id"] in opp_ids for r in converted)
    assert all(r["opportunity_id"] is None for r in leads if r["leads_status"] != "transformed")
    assert {r["leads_status"] for r in leads} <= {
        "un_processed",
        "processed",
        "qualified",
        "closed",
        "transformed",
    }
    contacts = {r["_id"]: r for r in sandbox.records("contacts")}
    for con in fx.contacts:
        rec = contacts[object_id("ContactObj", con.key, con.created_at)]
        assert fxiaoke_date(rec["date_of_birth"]) == con.birthday
    personnel = sandbox.records("personnel")
    assert {r["field_open_user_id__c"] for r in personnel} == {open_user_id(u.key) for u in fx.users}
    assert {r["_id"] for r in personnel} == {str(1000 + u.key) for u in fx.users}  # = owner__r.id
    accounts = {r["_id"]: r for r in sandbox.records("accounts")}
    for acc in fx.accounts:
        rec = accounts[object_id("AccountObj", acc.key, acc.created_at)]
        assert Decimal(rec["field_credit_limit__c"]) == acc.credit_limit
        expected = None if acc.satisfaction is None else str(acc.satisfaction)
        assert rec["field_satisfaction__c"] == expected


def test_crm_log_serves_stage_changes_paged_and_windowed(sandbox: FxiaokeSandbox, company: Company):
    fx = company.for_crm("fxiaoke")
    body = auth(sandbox)
    entries = sandbox.records("opportunity_stage_changes")
    assert len(entries) == sum(len(d.history) for d in fx.deals)
    stage_codes = {name: str(i + 1) for i, (name, _, _) in enumerate(fx.pipelines["fxiaoke"])}
    by_deal: dict[str, list[dict]] = {}
    for e in entries:
        by_deal.setdefault(e["objectId"], []).append(e)
    for deal in fx.deals:
        log = sorted(
            by_deal[object_id("OpportunityObj", deal.key, deal.created_at)], key=lambda e: e["operateTime"]
        )
        assert [e["newValue__r"] for e in log] == [h.stage for h in deal.history]
        assert [e["newValue"] for e in log] == [stage_codes[h.stage] for h in deal.history]
        assert log[0]["oldValue"] is None and all(
            a["newValue"] == b["oldValue"] for a, b in itertools.pairwise(log)
        )
        assert log[-1]["newValue__r"] == deal.stage and log[0]["fieldApiName"] == "sales_stage"
    times = sorted(e["operateTime"] for e in entries)
    lo, hi = times[50], times[150]
    window = {"field_name": "operateTime", "field_values": [lo, hi], "operator": "BETWEEN"}
    asc = [{"fieldName": "operateTime", "isAsc": True}]
    seen: list[int] = []
    for offset in (0, 100):
        res = post_json(
            sandbox,
            CRM_LOG_PATH,
            {
                **body,
                "data": {
                    "apiName": "OpportunityObj",
                    "search_query_info": {"limit": 100, "offset": offset, "filters": [window], "orders": asc},
                },
            },
        )
        assert res["errorCode"] == 0
        seen += [e["operateTime"] for e in res["data"]["dataList"]]
    assert seen == [t for t in times if lo <= t <= hi]
    assert post_json(sandbox, CRM_LOG_PATH, {**body, "data": {}})["errorCode"] != 0  # apiName required
    too_big = {"apiName": "OpportunityObj", "search_query_info": {"limit": 101, "offset": 0}}
    assert post_json(sandbox, CRM_LOG_PATH, {**body, "data": too_big})["errorCode"] != 0


def test_custom_objects_only_on_the_custom_endpoint(sandbox: FxiaokeSandbox):
    body = auth(sandbox)
    search = {"limit": 10, "offset": 0}
    custom = {**body, "data": {"dataObjectApiName": VISIT_OBJECT, "search_query_info": search}}
    preset = {**body, "data": {"dataObjectApiName": "AccountObj", "search_query_info": search}}
    assert post_json(sandbox, QUERY_PATH, custom)["errorCode"] == 10001
    ok = post_json(sandbox, CUSTOM_QUERY_PATH, custom)
    assert ok["errorCode"] == 0 and len(ok["data"]["dataList"]) == 10
    assert all(k.startswith("field_") for k in ok["data"]["dataList"][0] if k.endswith("__c"))
    assert post_json(sandbox, CUSTOM_QUERY_PATH, preset)["errorCode"] == 10001


# --- connector ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", NEW_OBJECTS)
def test_new_objects_land_completely(make_connector, sandbox: FxiaokeSandbox, obj: str):
    conn = make_connector()
    records, pages = collect(conn, obj, full=True)
    stored = {r["_id"]: r for r in sandbox.records(obj)}
    assert len(records) == len(stored) and {r.id for r in records} == set(stored)
    time_field = "operateTime" if obj == "opportunity_stage_changes" else "last_modified_time"
    for rec in records:
        assert rec.record == stored[rec.id] and rec.deleted_at is None
        assert rec.modified_at == ms_to_datetime(stored[rec.id][time_field])
    assert pages[-1].cursor == (obj, str(max(r[time_field] for r in stored.values())))


def test_stage_changes_are_incremental_by_operate_time(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector()
    times = sorted(e["operateTime"] for e in sandbox.records("opportunity_stage_changes"))
    cursor = times[len(times) // 2]
    records, pages = collect(conn, "opportunity_stage_changes", {"opportunity_stage_changes": str(cursor)})
    lo = cursor - 10 * 60 * 1000
    assert sorted(r.record["operateTime"] for r in records) == [t for t in times if t >= lo]
    assert pages[-1].cursor == ("opportunity_stage_changes", str(times[-1]))
    log_bodies = conn.stats("opportunity_stage_changes").api_calls
    assert log_bodies <= len(records) // 100 + 3  # token + keyset pages


def test_stage_changes_made_now_arrive_on_the_next_incremental_run(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock
):
    conn = make_connector()
    _, pages = collect(conn, "opportunity_stage_changes", full=True)
    cursor = pages[-1].cursor[1]
    clock.advance(3600)
    sim = sandbox.simulate("opportunities", update=40, advance_stage=True)
    assert sim["stage_changes"]
    records, pages = collect(conn, "opportunity_stage_changes", {"opportunity_stage_changes": cursor})
    assert set(sim["stage_changes"]) <= {r.id for r in records}
    lo = int(cursor) - 10 * 60 * 1000  # besides the new entries, only the overlap window comes back
    assert all(r.record["operateTime"] >= lo for r in records if r.id not in sim["stage_changes"])
    assert pages[-1].cursor == ("opportunity_stage_changes", str(sim["at"]))
    opps = {r["_id"]: r for r in sandbox.records("opportunities")}
    for rec in records:
        if rec.id not in sim["stage_changes"]:
            continue
        entry = rec.record
        assert opps[entry["objectId"]]["sales_stage"] == entry["newValue"]
        assert int(entry["newValue"]) == int(entry["oldValue"]) + 1
    with pytest.raises(ValueError):
        sandbox.simulate("opportunity_stage_changes", create=1)


def test_cancelled_orders_are_live_records(make_connector):
    records, _ = collect(make_connector(), "sales_orders", full=True)
    cancelled = [r for r in records if r.record["order_status"] == "cancelled"]
    assert cancelled and not any(r.is_deleted for r in cancelled)


def test_custom_objects_are_configurable(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector(custom_objects=[VISIT_OBJECT])
    obj = "custom_object_visit__c"
    assert conn.objects[-1] == obj and conn.objects[:11] == FxiaokeConnector.objects
    records, _ = collect(conn, obj, full=True)
    assert {r.id for r in records} == {r["_id"] for r in sandbox.records(VISIT_OBJECT)}
    assert sandbox.request_counts()[CUSTOM_QUERY_PATH] >= 1
    with pytest.raises(CrmError, match="not a custom object"):
        make_connector(custom_objects=["AccountObj"])
    with pytest.raises(CrmError, match="unknown object"):
        list(make_connector().pages(obj, {}))


# --- permanent deletes through known_ids --------------------------------------------------------------


def test_full_refresh_tombstones_ids_that_vanished(make_connector, sandbox: FxiaokeSandbox, clock: FakeClock):
    stored = {r["_id"] for r in sandbox.records("payments")}
    clock.advance(60)
    sim = sandbox.simulate("payments", delete=3, invalidate=1)
    asked: list[str] = []

    def known_ids(obj: str) -> set[str]:
        asked.append(obj)
        return stored | {"65f000000000000000000000"}  # plus an id the CRM never had

    conn = make_connector(known_ids=known_ids)
    records, pages = collect(conn, "payments", full=True)
    assert asked == ["payments"]
    tombstones = pages[-1].records
    gone = set(sim["deleted"]) | {"65f000000000000000000000"}
    assert {r.id for r in tombstones} == gone and pages[-1].cursor is None
    now = ms_to_datetime(to_ms(clock()))
    assert all(r.is_deleted and r.deleted_at == now for r in tombstones)
    assert {r.id for r in records if r.is_deleted} == gone | set(sim["invalidated"])
    assert conn.stats("payments").extra["tombstones"] == 4
    # Incremental runs never reconcile (no id scan); neither does a full refresh without the hook.
    clock.advance(60)
    _, inc = collect(conn, "payments", {"payments": pages[-2].cursor[1]})
    assert not any(r.id in gone for p in inc for r in p.records)
    assert asked == ["payments"]


def test_rows_modified_during_the_scan_are_not_tombstoned(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock
):
    stored = {r["_id"] for r in sandbox.records("leads")}
    # The connector's window ends a second before the server's "now": rows the CRM modifies while
    # the scan runs, before the scan reaches them, leave the window. Without the _id check they
    # would look deleted.
    conn = make_connector(known_ids=lambda obj: stored, clock=lambda: clock() - timedelta(seconds=1))
    pages = conn.pages("leads", {}, full_refresh=True)
    first = next(pages)
    sim = sandbox.simulate("leads", update=60)
    rest = list(pages)
    unseen = set(sim["updated"]) - {r.id for r in first.records}
    assert unseen
    last = rest[-1]
    assert {r.id for r in last.records} == unseen and last.cursor is None  # found again, live
    records = first.records + [r for p in rest for r in p.records]
    assert not any(r.is_deleted for r in records)
    assert {r.id for r in records} == stored
    assert conn.stats("leads").extra.get("tombstones", 0) == 0


def test_tombstones_through_ingest_mark_rows_deleted(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock, tmp_path: Path
):
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    conn = make_connector()
    first = ingest_object(conn, warehouse, "leads", run_id="r1", full_refresh=True)
    assert first.stats.inserted == len(sandbox.records("leads"))
    clock.advance(60)
    sim = sandbox.simulate("leads", delete=2)
    with warehouse.connect() as db:
        assert stored_live_ids(db, "fxiaoke")("contacts") == set()  # never landed: no table, no ids
        # What the ingest step would pass: a reader of the stored live ids (here on its own
        # in-process connection; ingest can hand over the connection it lands with).
        conn = make_connector(known_ids=stored_live_ids(db, "fxiaoke"))
        run = ingest_object(conn, warehouse, "leads", run_id="r2", full_refresh=True)
        assert run.stats.deleted == 2
        rows = db.execute(
            "select id, is_deleted, deleted_at, json_extract_string(record, '$.company_name') "
            "from raw.fxiaoke_leads where is_deleted"
        ).fetchall()
        assert {r[0] for r in rows} == set(sim["deleted"])
        assert all(r[2] is not None and r[3] for r in rows)  # the last live body is kept
        again = ingest_object(conn, warehouse, "leads", run_id="r3", full_refresh=True)
        assert again.stats.deleted == 0 and again.stats.inserted == 0  # re-running changes nothing
        assert conn.stats("leads").extra["tombstones"] == 2  # only the first run found any


def test_raw_record_of_a_tombstone_is_minimal():
    rec = RawRecord(id="x", record={"_id": "x"}, modified_at=START, deleted_at=START)
    assert rec.is_deleted
