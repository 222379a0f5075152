"""Zoho activities (Tasks, Calls, Events): generated per rep, served by the sandbox with the same
protocol as every module (field metadata, paging, If-Modified-Since, /deleted) and read by the
connector incrementally."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import requests
from zoho_support import T0, FakeClock, api, latest, make_connector, run, token

from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.zoho.encoding.wire import zoho_id
from flows.sandbox.zoho.server import ZohoSandbox

ACTIVITY_OBJECTS = [("tasks", "Tasks"), ("calls", "Calls"), ("events", "Events")]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZohoSandbox]:
    company = generate_company(seed=5, deals=900, as_of=T0.date() - timedelta(days=1)).for_crm("zoho")
    with ZohoSandbox(company, clock=clock) as sb:
        yield sb


@pytest.fixture
def connector(sandbox: ZohoSandbox, clock: FakeClock) -> Iterator[ZohoConnector]:
    conn = make_connector(sandbox, clock)
    yield conn
    conn.close()


def test_generator_gives_every_zoho_rep_linked_activities() -> None:
    company = generate_company(seed=3, deals=600)
    acts = company.activities
    kinds = Counter(a.kind for a in acts)
    assert set(kinds) == {"task", "call", "event"} and all(n > 20 for n in kinds.values())
    reps = {u.key for u in company.users if u.role == "rep" and u.crm == "zoho"}
    assert reps <= {a.owner_key for a in acts if a.crm == "zoho"}
    deals = {d.key: d for d in company.deals}
    linked = [a for a in acts if a.deal_key is not None]
    assert len(linked) > len(acts) / 2
    assert all(deals[a.deal_key].owner_key == a.owner_key for a in linked)
    assert any(a.deal_key is None and a.account_key is not None for a in acts)
    assert any(a.deal_key is None and a.account_key is None for a in acts)
    assert {a.status for a in acts if a.kind == "task"} >= {"Completed", "Not Started"}
    assert all(a.closed_at is not None for a in acts if a.kind == "task" and a.status == "Completed")
    assert all(a.end_at > a.start_at for a in acts if a.kind == "event")
    assert all(a.modified_at >= a.created_at for a in acts)
    # adding activities left the rest of the company as it was for the seed
    assert generate_company(seed=3, deals=600).deals == company.deals


def test_sandbox_serves_activity_modules_like_any_module(sandbox: ZohoSandbox) -> None:
    tok = token(sandbox)
    hdrs = {"Authorization": f"Zoho-oauthtoken {tok}"}
    base = f"{sandbox.api_url}/crm/v8"
    meta = api(sandbox, "/settings/fields", tok, module="Calls")
    names = {f["api_name"] for f in meta.json()["fields"]}
    assert {"Call_Type", "Call_Start_Time", "Call_Duration_in_seconds", "What_Id", "Who_Id"} <= names
    fields = "Subject,What_Id,Who_Id,Owner,Status,Closed_Time,Modified_Time,Unknown_Field"
    body = api(sandbox, "/Tasks", tok, fields=fields).json()
    rows = body["data"]
    assert len(rows) == 200 and body["info"]["more_records"] is True
    assert all(r["Unknown_Field"] is None and "$se_module" in r for r in rows)
    deal_ids, account_ids = set(sandbox.live_ids("Deals")), set(sandbox.live_ids("Accounts"))
    for r in rows:
        what = r["What_Id"]
        if what is None:
            assert r["$se_module"] is None
        else:
            assert what["id"] in {"Deals": deal_ids, "Accounts": account_ids}[r["$se_module"]]
    assert {r["$se_module"] for r in rows} == {"Deals", "Accounts", None}
    events = api(sandbox, "/Events", tok, fields="Event_Title,Start_DateTime,End_DateTime").json()["data"]
    parse = datetime.fromisoformat
    starts_before_end = [parse(e["Start_DateTime"]) < parse(e["End_DateTime"]) for e in events]
    assert events and all(starts_before_end)
    future = (T0 + timedelta(days=30)).isoformat()
    hdrs_since = hdrs | {"If-Modified-Since": future}
    resp = requests.get(f"{base}/Calls", params={"fields": "Subject"}, headers=hdrs_since, timeout=5)
    assert resp.status_code == 304 and resp.content == b""


def test_connector_full_load_of_activities(sandbox: ZohoSandbox, connector: ZohoConnector) -> None:
    assert {"tasks", "calls", "events"} <= set(ZohoConnector.objects)  # in the nightly default list
    for obj, module in ACTIVITY_OBJECTS:
        pages, cursors = run(connector, obj)
        got = latest(pages)
        assert sorted(got) == sandbox.live_ids(module), obj
        assert len(got) > (200 if obj == "tasks" else 50)  # tasks need more than one page
        assert set(cursors) == {obj}
    calls = latest(run(connector, "calls")[0])
    rec = next(r.record for r in calls.values() if r.record["Call_Type"] == "Outbound")
    assert {"Call_Start_Time", "Call_Duration", "Call_Duration_in_seconds", "Owner", "$se_module"} <= set(rec)
    events = latest(run(connector, "events")[0])
    assert all("Event_Title" in r.record and "Start_DateTime" in r.record for r in events.values())


def test_connector_reads_activity_changes_and_deletes_incrementally(
    sandbox: ZohoSandbox, connector: ZohoConnector, clock: FakeClock
) -> None:
    _, cursors = run(connector, "tasks")
    clock.advance(600)
    changed = sandbox.simulate("tasks", update=4, delete=2)
    clock.advance(1)
    purged = sandbox.simulate("tasks", delete=1, permanent=True)["deleted"]
    pages, cursors = run(connector, "tasks", cursors)
    live = {r.id: r for p in pages for r in p.records if not r.is_deleted}
    deleted = {r.id for p in pages for r in p.records if r.is_deleted}
    assert set(changed["updated"]) <= set(live) and len(live) < 20
    assert all(live[rid].record["Description"].startswith("Notes updated") for rid in changed["updated"])
    assert deleted == set(changed["deleted"] + purged)
    assert cursors["tasks"] == (clock.now - timedelta(seconds=1)).isoformat()
    assert cursors["tasks.deleted"] == clock.now.isoformat()
    assert all(rid.startswith(zoho_id("Tasks", 0)[:10]) for rid in deleted)
