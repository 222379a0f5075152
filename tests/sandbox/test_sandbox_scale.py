"""Bounded memory and per-page cost of the sandbox stores, pinned structurally (issue 14): what a
store encodes up front, what one page encodes, how often an order is built. Counts, never timings
(speed is shown by ``make bench``)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest
from fxiaoke_support import AS_OF, FakeClock, post
from zoho_support import api, token

from flows.gc_pause import collector_paused
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.store import _build
from flows.sandbox.fxiaoke.wire import CRM_LOG, CRM_LOG_PATH, QUERY_PATH, TOKEN_PATH, to_ms
from flows.sandbox.zoho.encoding.records import ZohoEncoder
from flows.sandbox.zoho.server import ZohoSandbox

ASC = [{"fieldName": "last_modified_time", "isAsc": True}, {"fieldName": "_id", "isAsc": True}]


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=7, reps=8, deals=600, as_of=AS_OF)


def _objects(sb: FxiaokeSandbox) -> dict:
    return sb._state.data.objects


def _query(sb: FxiaokeSandbox, search: dict, data: dict | None = None, path: str = QUERY_PATH) -> dict:
    """One page as the admin caller: the answer's ``data`` (``search_query_info`` is ``search``)."""
    tok = post(
        sb, TOKEN_PATH, {"appId": sb.APP_ID, "appSecret": sb.APP_SECRET, "permanentCode": sb.PERMANENT_CODE}
    ).json()
    body = {
        "corpAccessToken": tok["corpAccessToken"],
        "corpId": tok["corpId"],
        "currentOpenUserId": sb.ADMIN_OPEN_USER_ID,
        "data": {**(data or {"dataObjectApiName": "OpportunityObj"}), "search_query_info": search},
    }
    answer = post(sb, path, body).json()
    assert answer["errorCode"] == 0, answer
    return answer["data"]


def _keyset_page(sb: FxiaokeSandbox, after_ms: int, limit: int = 50) -> list[dict]:
    search = {
        "limit": limit,
        "offset": 0,
        "filters": [{"field_name": "last_modified_time", "field_values": [after_ms], "operator": "GTE"}],
        "orders": ASC,
    }
    return _query(sb, search)["dataList"]


def test_a_fxiaoke_sandbox_encodes_no_record_up_front(sandbox: FxiaokeSandbox, company: Company):
    fx = company.for_crm("fxiaoke")
    objects = _objects(sandbox)
    assert len(objects["OpportunityObj"]) == len(fx.deals) > 100
    assert len(objects[CRM_LOG]) == sum(len(d.history) for d in fx.deals)
    assert {name: obj.encoded for name, obj in objects.items()} == dict.fromkeys(objects, 0)


def test_a_keyset_page_encodes_its_own_records_and_the_order_is_built_once_per_change(
    sandbox: FxiaokeSandbox, clock: FakeClock
):
    opportunities, orders = _objects(sandbox)["OpportunityObj"], sandbox._state.orders
    first = _keyset_page(sandbox, 0)
    assert orders.builds == 1  # the first page builds the order: one pass over the object
    built = opportunities.encoded
    assert built == len(opportunities) + 50  # the order's one pass, then the 50 records served
    second = _keyset_page(sandbox, first[-1]["last_modified_time"] + 1)
    third = _keyset_page(sandbox, second[-1]["last_modified_time"] + 1)
    assert len(second) == len(third) == 50
    # Each later page encodes the 50 records it serves, none of the module's others.
    assert opportunities.encoded - built == 100
    assert orders.builds == 1
    sandbox.simulate("opportunities", update=3)
    before = opportunities.encoded
    assert _keyset_page(sandbox, 0)
    assert orders.builds == 1  # a change moves its rows in the kept order: no rebuild
    assert opportunities.encoded - before == 50


def _page(sb: FxiaokeSandbox, path: str, data: dict, field: str, after: int) -> list[dict]:
    search = {
        "limit": 100,
        "offset": 0,
        "filters": [{"field_name": field, "field_values": [after], "operator": "GTE"}],
        "orders": [{"fieldName": field, "isAsc": True}, {"fieldName": "_id", "isAsc": True}],
    }
    return _query(sb, search, data, path)["dataList"]


def _sweep_page(sb: FxiaokeSandbox, after_id: str | None, limit: int = 100) -> list[str]:
    """The connector's deletion sweep page: ids above the last one seen, ordered by ``_id``."""
    search = {
        "limit": limit,
        "offset": 0,
        "filters": [{"field_name": "_id", "field_values": [after_id], "operator": "GT"}] if after_id else [],
        "orders": [{"fieldName": "_id", "isAsc": True}],
        "fieldProjection": ["_id"],
    }
    return [r["_id"] for r in _query(sb, search)["dataList"]]


def test_kept_orders_stay_sorted_through_every_kind_of_change(sandbox: FxiaokeSandbox, clock: FakeClock):
    """Updates, stage moves (new CRM log entries), 作废, deletions and creations move rows within
    the kept orders (the ``_id`` order too); each must equal an order built from scratch afterwards."""
    opportunity = {"dataObjectApiName": "OpportunityObj"}
    log = {"apiName": "OpportunityObj", "fieldApiName": "sales_stage"}
    _page(sandbox, QUERY_PATH, opportunity, "last_modified_time", 0)
    _page(sandbox, QUERY_PATH, opportunity, "create_time", 0)
    _page(sandbox, CRM_LOG_PATH, log, "operateTime", 0)
    _sweep_page(sandbox, None)
    orders = sandbox._state.orders
    assert orders.builds == 4
    for step in range(3):
        clock.advance(60)
        sandbox.simulate("opportunities", update=20, invalidate=2, delete=2, create=3, advance_stage=True)
        sandbox.faults.modify_during_paging = 2  # the fault's touches move rows too
        _page(sandbox, QUERY_PATH, opportunity, "last_modified_time", step)
    assert orders.builds == 4
    for (api_name, _, field, _), kept in orders._cache.items():
        store = _objects(sandbox)[api_name]
        fresh = _build(field, ((pos, r) for pos, r in store.records() if kept.keep(r)))
        assert kept.rows is not None and fresh is not None
        assert (list(kept.rows.values), list(kept.rows.positions), list(kept.rows.nulls)) == (
            list(fresh.values),
            list(fresh.positions),
            list(fresh.nulls),
        ), (api_name, field)
    changed = _page(sandbox, CRM_LOG_PATH, log, "operateTime", to_ms(clock.now) - 1000)
    assert changed and all(e["operationType"] == "修改" for e in changed)


def _instant_page(sb: FxiaokeSandbox, at_ms: int, offset: int, limit: int = 10) -> dict:
    """The connector's offset page inside one instant: ``BETWEEN [t, t]`` ordered by ``_id``."""
    search = {
        "limit": limit,
        "offset": offset,
        "filters": [
            {"field_name": "last_modified_time", "field_values": [at_ms, at_ms], "operator": "BETWEEN"}
        ],
        "orders": [{"fieldName": "_id", "isAsc": True}],
    }
    return _query(sb, search)


def test_offset_pages_inside_one_instant_are_served_from_the_kept_order(
    sandbox: FxiaokeSandbox, clock: FakeClock
):
    """30 rows changed in the same millisecond: the connector pages them by ``_id`` with offsets.
    Each page must encode only its own rows (no scan of the object, whose cost would grow with
    its size: issue 14) and the pages together must be exactly those 30 rows in ``_id`` order."""
    opportunities, orders = _objects(sandbox)["OpportunityObj"], sandbox._state.orders
    _keyset_page(sandbox, 0)
    clock.advance(60)
    changed = sandbox.simulate("opportunities", update=30)
    builds, before = orders.builds, opportunities.encoded
    pages = [_instant_page(sandbox, changed["at"], offset) for offset in (0, 10, 20, 30)]
    served = [r["_id"] for page in pages for r in page["dataList"]]
    assert served == sorted(changed["updated"])
    assert [page["total"] for page in pages] == [30, 30, 30, 30]
    assert orders.builds == builds  # the (time, _id) order already kept serves these pages
    # The 30 rows are held as edited; a scan would have encoded the object's other ~570 rows.
    assert opportunities.encoded == before


def test_a_record_reached_by_id_is_kept_so_its_edits_are_served(sandbox: FxiaokeSandbox):
    opportunities = _objects(sandbox)["OpportunityObj"]
    first = _keyset_page(sandbox, 0, limit=1)[0]
    opportunities[first["_id"]]["name"] = "edited in place"
    assert _keyset_page(sandbox, 0, limit=1)[0]["name"] == "edited in place"
    assert [r["name"] for r in sandbox.records("opportunities") if r["_id"] == first["_id"]] == [
        "edited in place"
    ]


@pytest.fixture
def counted_zoho(monkeypatch: pytest.MonkeyPatch, company: Company):
    """A Zoho sandbox whose deal encoder counts its calls (patched before the rows bind it)."""
    calls: list[int] = []
    original = ZohoEncoder.deal

    def deal(self: ZohoEncoder, source: object):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, source)

    monkeypatch.setattr(ZohoEncoder, "deal", deal)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    with ZohoSandbox(company, clock=lambda: now) as sb:
        yield sb, calls


def test_a_zoho_store_encodes_nothing_up_front_and_a_page_only_its_rows(counted_zoho):
    sb, calls = counted_zoho
    deals = len(sb._rows["Deals"])
    assert deals > 200 and calls == []
    tok = token(sb)
    params = {"fields": "Deal_Name,Amount", "per_page": 7, "page": 3, "sort_by": "Modified_Time"}
    answer = api(sb, "/Deals", tok, **params)
    assert answer.status_code == 200 and len(answer.json()["data"]) == 7
    assert len(calls) == 7  # page 3 of 7-record pages: the 7 records served, not the 21 before them
    deals_orders = sb._rows["Deals"]._orders[None]
    assert deals_orders._by_created is None  # never sorted by Created_Time: that order is not built
    sb.simulate("Deals", create=2, delete=1)
    params |= {"sort_by": "Created_Time", "per_page": 200, "page": 1}
    answer = api(sb, "/Deals", tok, **params)
    assert answer.status_code == 200
    live = [sb._rows["Deals"][rid] for rid in sb.live_ids("Deals")]
    assert list(deals_orders.by_created) == sorted((r.created, r.rid) for r in live)


def test_every_fxiaoke_record_an_encoder_writes_is_normal(company: Company):
    """What :meth:`LazyObject.normal_ids` relies on to find live records without encoding them."""
    with FxiaokeSandbox(company, clock=lambda: datetime(2026, 4, 1, tzinfo=UTC)) as sb:
        for name, obj in _objects(sb).items():
            if name != CRM_LOG:
                assert {r["life_status"] for _, r in obj.records()} == {"normal"}, name
                assert sorted(obj.normal_ids()) == sorted(obj)


def test_the_collector_is_paused_while_building_and_enabled_again_after_the_last_build():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a nested build (the company inside a sandbox's start)
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had switched it off keeps it off
    finally:
        gc.enable()


@pytest.mark.parametrize("return_invalid", [True, False])
def test_the_deletion_sweep_is_served_from_the_kept_id_order(
    sandbox: FxiaokeSandbox, clock: FakeClock, return_invalid: bool
):
    """The sweep pages every live id by ``_id`` above the last one seen. Each page must encode
    only its own rows once the ``_id`` order is kept (a scan and sort per page would make the
    sweep quadratic in the object's size: issue 14), the order must follow deletions and
    creations, and the pages together must be exactly the live ids in ``_id`` order (作废 rows
    included as the CRM does by default, left out when ``faults.return_invalid`` is off)."""
    sandbox.faults.return_invalid = return_invalid
    opportunities, orders = _objects(sandbox)["OpportunityObj"], sandbox._state.orders
    _sweep_page(sandbox, None)
    clock.advance(60)
    changed = sandbox.simulate("opportunities", delete=3, create=4, invalidate=2)
    builds, before = orders.builds, opportunities.encoded
    seen: list[str] = []
    while page := _sweep_page(sandbox, seen[-1] if seen else None, limit=100):
        seen += page
    assert orders.builds == builds
    assert opportunities.encoded - before <= len(seen)  # each served row at most once, no scan
    invalid = set(changed["invalidated"])
    assert seen == sorted(rid for rid in opportunities if return_invalid or rid not in invalid)
    assert not set(changed["deleted"]) & set(seen) and set(changed["created"]) <= set(seen)
    assert invalid <= set(seen) if return_invalid else not invalid & set(seen)
