"""Zoho order-to-cash objects: Leads, Sales_Orders, Invoices, Deal stage history, account custom
fields; served by the sandbox and read by the connector (full and incremental)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
import requests
from zoho_support import T0, FakeClock, api, latest, make_connector, run, token, zoho_company

from flows.crm.landing import ingest_source
from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.zoho.encoding.wire import zoho_id
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import Warehouse


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZohoSandbox]:
    """A consistent company (every lead, order and invoice points at a served deal)."""
    company = generate_company(seed=11, deals=800, as_of=T0.date() - timedelta(days=1))
    with ZohoSandbox(company, clock=clock) as sb:
        yield sb


@pytest.fixture
def connector(sandbox: ZohoSandbox, clock: FakeClock) -> Iterator[ZohoConnector]:
    conn = make_connector(sandbox, clock)
    yield conn
    conn.close()


def test_connector_objects_in_load_order():
    assert ZohoConnector.objects == (
        "users",
        "products",
        "accounts",
        "contacts",
        "leads",
        "deals",
        "deal_stage_history",
        "sales_orders",
        "invoices",
        "tasks",
        "calls",
        "events",
    )


def test_converted_leads_hidden_unless_asked(sandbox: ZohoSandbox):
    tok = token(sandbox)
    fields = "Last_Name,Converted__s,Converted_Deal,Modified_Time"
    default = api(sandbox, "/Leads", tok, fields=fields).json()["data"]
    both = api(sandbox, "/Leads", tok, fields=fields, converted="both").json()["data"]
    only = api(sandbox, "/Leads", tok, fields=fields, converted="true").json()["data"]
    assert default and all(r["Converted__s"] is False and r["Converted_Deal"] is None for r in default)
    assert only and all(r["Converted__s"] is True for r in only)
    deal_ids = set(sandbox.live_ids("Deals"))
    assert all(r["Converted_Deal"]["id"] in deal_ids for r in only)
    assert len(both) == min(200, len(default) + len(only))
    assert api(sandbox, "/Leads", tok, fields=fields, converted="maybe").json()["code"] == "INVALID_DATA"


def test_full_load_of_order_to_cash_modules(sandbox: ZohoSandbox, connector: ZohoConnector):
    for obj, module in [("leads", "Leads"), ("sales_orders", "Sales_Orders"), ("invoices", "Invoices")]:
        pages, cursors = run(connector, obj)
        got = latest(pages)
        assert sorted(got) == sandbox.live_ids(module), obj
        assert set(cursors) == {obj}
    leads = latest(run(connector, "leads")[0])
    assert any(r.record["Converted__s"] for r in leads.values())  # converted=both was sent
    orders = latest(run(connector, "sales_orders")[0])
    cancelled = [r.record for r in orders.values() if r.record["Status"] == "Cancelled"]
    assert cancelled, "the generator cancels ~3% of orders"
    for rec in orders.values():
        r = rec.record
        assert r["Deal_Name"]["id"] in sandbox.live_ids("Deals")
        assert {
            "SO_Number",
            "Subject",
            "Grand_Total",
            "Currency",
            "Exchange_Rate",
            "Owner",
            "Due_Date",
        } <= set(r)
    invoices = latest(run(connector, "invoices")[0])
    paid = {}
    for pay in sandbox.company.payments:
        paid[zoho_id("Invoices", pay.invoice_key)] = (
            paid.get(zoho_id("Invoices", pay.invoice_key), 0) + pay.amount
        )
    for rid, rec in invoices.items():
        r = rec.record
        assert Decimal(str(r["Amount_Paid"])) == paid.get(rid, Decimal("0"))
        assert (r["Last_Payment_Date"] is None) == (rid not in paid)
        assert r["Sales_Order"]["id"] in orders


def test_account_custom_fields(sandbox: ZohoSandbox, connector: ZohoConnector):
    accounts = latest(run(connector, "accounts")[0])
    scores = {r.record["Customer_Satisfaction"] for r in accounts.values()}
    assert scores - {None} <= {1, 2, 3, 4, 5} and None in scores
    assert all(r.record["Credit_Limit"] > 0 for r in accounts.values())
    meta = api(sandbox, "/settings/fields", token(sandbox), module="Accounts").json()["fields"]
    custom = {f["api_name"] for f in meta if f["custom_field"]}
    assert {"Credit_Limit", "Customer_Satisfaction"} <= custom


def test_stage_history_related_list(sandbox: ZohoSandbox):
    tok = token(sandbox)
    deal = sandbox.company.deals[0]
    did = zoho_id("Deals", deal.key)
    assert api(sandbox, f"/Deals/{did}/Stage_History", tok).json()["code"] == "REQUIRED_PARAM_MISSING"
    body = api(sandbox, f"/Deals/{did}/Stage_History", tok, fields="Stage,Modified_Time,Modified_By").json()
    assert [r["Stage"] for r in body["data"]] == [h.stage for h in reversed(deal.history)]  # newest first
    assert all(set(r) == {"id", "Stage", "Modified_Time", "Modified_By"} for r in body["data"])
    bad = api(sandbox, "/Deals/5725767002999999999/Stage_History", tok, fields="Stage")
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_DATA"


def test_stage_history_full_then_incremental(clock: FakeClock):
    company = zoho_company(450, modified=T0 - timedelta(days=2), spaced=True)
    with ZohoSandbox(company, clock=clock) as sb:
        conn = make_connector(sb, clock)
        pages, cursors = run(conn, "deal_stage_history")
        got = latest(pages)
        expected = {f"{d}:{h['id']}" for d in sb.live_ids("Deals") for h in sb.stage_history(d)}
        assert set(got) == expected and len(got) == sum(len(d.history) for d in company.deals)
        assert all(r.modified_at and r.modified_at.tzinfo == UTC for r in got.values())
        calls = sb.request_counts()
        history_calls = sum(n for p, n in calls.items() if p.endswith("/Stage_History"))
        assert history_calls == 450 and calls["/crm/v8/Deals"] <= 450 // 200 + 2
        assert cursors == {
            "deal_stage_history": (T0 - timedelta(days=2) + timedelta(seconds=449)).isoformat()
        }

        clock.advance(3600)
        sb.reset()
        changed = []
        for _ in range(25):
            changed += sb.simulate("deals", update=1)["updated"]
            clock.advance(1)
        pages, cursors2 = run(conn, "deal_stage_history", cursors)
        calls = sb.request_counts()
        history_calls = sum(n for p, n in calls.items() if p.endswith("/Stage_History"))
        new = latest(pages)
        # one related-list call per changed deal (+ the deals in the cursor's own second, re-read
        # on purpose: at most 2 here), plus the id listing of the deals in the window: 25 changes +
        # 300 unchanged deals inside the 5-minute overlap (spaced 1 s apart) = 2 pages + 1 restart
        assert len(set(changed)) <= history_calls <= len(set(changed)) + 2
        assert calls["/crm/v8/Deals"] <= 3
        assert {k.split(":")[0] for k in new} >= set(changed)
        assert sum(1 for k in new if k not in got) == len(changed)  # one new entry per update
        assert cursors2["deal_stage_history"] > cursors["deal_stage_history"]
        deals_calls = calls["/crm/v8/Deals"]
        print(f"stage history: 25 changes -> {history_calls} history calls + {deals_calls} Deals calls")


def test_deal_deleted_while_its_history_is_fetched(sandbox: ZohoSandbox, clock: FakeClock):
    conn = make_connector(sandbox, clock)
    original = conn._deal_history
    victim = sandbox.live_ids("Deals")[3]

    def delete_then_fetch(obj: str, deal_id: str):
        if deal_id == victim:
            with sandbox._lock:
                sandbox._delete("Deals", victim, sandbox.now(), False)
        return original(obj, deal_id)

    conn._deal_history = delete_then_fetch  # type: ignore[method-assign]
    pages, _ = run(conn, "deal_stage_history")
    got = latest(pages)
    assert not any(k.startswith(victim) for k in got)
    assert {k.split(":")[0] for k in got} == set(sandbox.live_ids("Deals"))


# --- admin simulate creates records of any module --------------------------------------------------------


def test_simulate_creates_linked_leads_orders_and_invoices_an_incremental_ingest_lands(
    sandbox: ZohoSandbox, clock: FakeClock, tmp_path
):
    """Created records point at what the CRM already has (owners, accounts, deals, orders), and the
    next incremental ingest lands exactly the new ones: N inserted rows per module, nothing else."""
    objects = {"Leads": "leads", "Sales_Orders": "sales_orders", "Invoices": "invoices"}
    warehouse = Warehouse(tmp_path / "w.duckdb")
    first = make_connector(sandbox, clock)
    ingest_source(first, warehouse, run_id="r1", objects=list(objects.values()))
    first.close()
    clock.advance(120)
    created = {
        module: set(sandbox.simulate(module, create=n)["created"])
        for module, n in zip(objects, (3, 4, 5), strict=True)
    }
    assert [len(ids) for ids in created.values()] == [3, 4, 5]
    assert all(set(ids) <= set(sandbox.live_ids(m)) for m, ids in created.items())

    again = make_connector(sandbox, clock)
    runs = {r.object: r for r in ingest_source(again, warehouse, run_id="r2", objects=list(objects.values()))}
    again.close()
    for module, obj in objects.items():
        assert runs[obj].stats.inserted == len(created[module]), obj
        assert runs[obj].stats.updated == runs[obj].stats.deleted == 0, obj

    with warehouse.connect() as conn:

        def landed(obj: str) -> dict[str, dict]:
            rows = conn.execute(f"select id, record from raw.zoho_{obj} where run_id = 'r2'").fetchall()
            return {rid: json.loads(rec) for rid, rec in rows}

        leads, orders, invoices = landed("leads"), landed("sales_orders"), landed("invoices")
    assert (set(leads), set(orders), set(invoices)) == tuple(created.values())
    users = {zoho_id("users", u.key) for u in sandbox.company.users}
    deals, all_orders = set(sandbox.live_ids("Deals")), set(sandbox.live_ids("Sales_Orders"))
    accounts = set(sandbox.live_ids("Accounts"))
    for lead in leads.values():
        assert lead["Owner"]["id"] in users and lead["Lead_Status"] == "Not Contacted"
        assert lead["Email"].endswith("@prospect.example") and lead["Company"]
    for order in orders.values():
        assert order["Deal_Name"]["id"] in deals and order["Account_Name"]["id"] in accounts
        assert order["Owner"]["id"] in users and order["Grand_Total"] > 0
    for invoice in invoices.values():
        assert invoice["Sales_Order"]["id"] in all_orders and invoice["Account_Name"]["id"] in accounts
        assert invoice["Status"] == "Unpaid" and invoice["Due_Date"] > invoice["Invoice_Date"]


@pytest.mark.parametrize("module", ["Leads", "Sales_Orders", "Invoices", "Tasks", "Calls", "Events"])
def test_simulate_updates_and_deletes_any_module_incrementally(
    sandbox: ZohoSandbox, clock: FakeClock, tmp_path, module: str
):
    obj = module.lower()
    warehouse = Warehouse(tmp_path / "w.duckdb")
    conn = make_connector(sandbox, clock)
    ingest_source(conn, warehouse, run_id="r1", objects=[obj])
    clock.advance(120)
    sim = requests.post(
        f"{sandbox.api_url}/__admin/simulate",
        json={"module": module, "create": 2, "update": 3, "delete": 1},
        timeout=5,
    ).json()
    assert len(sim["created"]) == 2 and len(sim["updated"]) == 3 and len(sim["deleted"]) == 1
    (run,) = ingest_source(conn, warehouse, run_id="r2", objects=[obj])
    conn.close()
    assert (run.stats.inserted, run.stats.updated, run.stats.deleted) == (2, 3, 1)
