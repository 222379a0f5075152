"""The Fxiaoke sandbox reproduces the API behaviours the connector must survive (crm_apis §4.2).

These tests talk raw HTTP with ``requests``, like a hand-written client would, so they also show
why such a client is not enough: errors arrive as HTTP 200, and offset paging loses rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from fxiaoke_support import AS_OF, FakeClock, post

from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.wire import (
    DEPARTMENT_LIST_PATH,
    QUERY_PATH,
    TOKEN_PATH,
    USER_LIST_PATH,
    date_ms,
    open_user_id,
    to_ms,
)


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=7, reps=8, deals=400, as_of=AS_OF)


def get_token(sb: FxiaokeSandbox) -> dict:
    creds = {"appId": sb.APP_ID, "appSecret": sb.APP_SECRET, "permanentCode": sb.PERMANENT_CODE}
    return post(sb, TOKEN_PATH, creds).json()


def query(
    sb: FxiaokeSandbox, tok: dict, search: dict, *, obj: str = "OpportunityObj", **data: object
) -> dict:
    body = {
        "corpAccessToken": tok["corpAccessToken"],
        "corpId": tok["corpId"],
        "currentOpenUserId": sb.ADMIN_OPEN_USER_ID,
        "data": {"dataObjectApiName": obj, "search_query_info": search, **data},
    }
    return post(sb, QUERY_PATH, body).json()


# --- auth -----------------------------------------------------------------------------------------------


def test_token_reissued_for_6600_s_then_new_and_old_dies_at_7200(sandbox: FxiaokeSandbox, clock: FakeClock):
    first = get_token(sandbox)
    assert first["errorCode"] == 0 and first["expiresIn"] == 7200
    assert first["corpId"] == sandbox.CORP_ID
    clock.advance(6599)
    again = get_token(sandbox)
    assert again["corpAccessToken"] == first["corpAccessToken"]
    assert again["expiresIn"] == 7200 - 6599
    clock.advance(1)
    fresh = get_token(sandbox)
    assert fresh["corpAccessToken"] != first["corpAccessToken"] and fresh["expiresIn"] == 7200
    assert query(sandbox, first, {"limit": 1, "offset": 0})["errorCode"] == 0  # still alive at 6600 s
    clock.advance(600)
    resp = post(
        sandbox,
        QUERY_PATH,
        {
            "corpAccessToken": first["corpAccessToken"],
            "corpId": sandbox.CORP_ID,
            "currentOpenUserId": sandbox.ADMIN_OPEN_USER_ID,
            "data": {"dataObjectApiName": "OpportunityObj"},
        },
    )
    # The trap for a status-only client: the request "succeeds" and carries no data.
    resp.raise_for_status()
    assert resp.status_code == 200
    assert resp.json()["errorCode"] == 20016 and "data" not in resp.json()
    assert query(sandbox, fresh, {"limit": 1, "offset": 0})["errorCode"] == 0


def test_bad_credentials_and_missing_or_bogus_token(sandbox: FxiaokeSandbox):
    bad = post(sandbox, TOKEN_PATH, {"appId": sandbox.APP_ID, "appSecret": "nope", "permanentCode": "x"})
    assert bad.status_code == 200 and bad.json()["errorCode"] == 20006
    missing = post(sandbox, USER_LIST_PATH, {"corpId": sandbox.CORP_ID, "departmentId": 999999})
    assert missing.status_code == 200
    assert missing.json()["errorCode"] == 20017
    assert missing.json()["errorMessage"] == "corpAccessToken为必填项，不能为空"
    bogus = post(
        sandbox, USER_LIST_PATH, {"corpAccessToken": "F00", "corpId": sandbox.CORP_ID, "departmentId": 999999}
    )
    assert bogus.json()["errorCode"] == 20016


def test_token_faults_expire_now_and_after_n_calls(sandbox: FxiaokeSandbox):
    tok = get_token(sandbox)
    sandbox.faults.expire_token_now = True
    assert query(sandbox, tok, {"limit": 1, "offset": 0})["errorCode"] == 20016
    tok2 = get_token(sandbox)
    assert tok2["corpAccessToken"] != tok["corpAccessToken"]  # a revoked token is never reissued
    sandbox.faults.expire_token_after_calls = 2
    codes = [query(sandbox, tok2, {"limit": 1, "offset": 0})["errorCode"] for _ in range(3)]
    assert codes == [0, 0, 20016]


def test_third_trace_id_enforcement_is_configurable(sandbox: FxiaokeSandbox):
    creds = {
        "appId": sandbox.APP_ID,
        "appSecret": sandbox.APP_SECRET,
        "permanentCode": sandbox.PERMANENT_CODE,
    }
    assert post(sandbox, TOKEN_PATH, creds, trace=None).json()["errorCode"] != 0
    sandbox.faults.require_trace_id = False
    assert post(sandbox, TOKEN_PATH, creds, trace=None).json()["errorCode"] == 0
    sandbox.faults.reject_reused_trace_id = True
    assert post(sandbox, TOKEN_PATH, creds, trace="t-1").json()["errorCode"] == 0
    assert post(sandbox, TOKEN_PATH, creds, trace="t-1").json()["errorCode"] != 0
    assert sandbox.trace_ids()[-2:] == ["t-1", "t-1"]


# --- data/query ---------------------------------------------------------------------------------------------


def test_limit_and_offset_rules_and_total(sandbox: FxiaokeSandbox):
    tok = get_token(sandbox)
    n = len(sandbox.records("opportunities"))
    assert n > 150
    assert query(sandbox, tok, {"limit": 101, "offset": 0})["errorCode"] != 0
    assert query(sandbox, tok, {"limit": 100, "offset": 50})["errorCode"] != 0
    ok = query(sandbox, tok, {"limit": 100, "offset": 100})
    assert ok["errorCode"] == 0 and ok["errorMessage"] == "success" and ok["traceId"]
    assert ok["data"]["total"] == n and ok["data"]["offset"] == 100 and ok["data"]["limit"] == 100
    assert len(ok["data"]["dataList"]) == min(100, n - 100)
    no_total = query(sandbox, tok, {"limit": 100, "offset": 0}, find_explicit_total_num=False)
    assert "total" not in no_total["data"] and len(no_total["data"]["dataList"]) == 100
    sandbox.faults.max_offset = 100
    assert query(sandbox, tok, {"limit": 100, "offset": 200})["errorCode"] != 0


def test_filters_orders_and_projection(sandbox: FxiaokeSandbox):
    tok = get_token(sandbox)
    times = sorted(r["last_modified_time"] for r in sandbox.records("opportunities"))
    lo, hi = times[10], times[40]
    asc = {"fieldName": "last_modified_time", "isAsc": True}

    def lmts(op: str, values: list[int]) -> list[int]:
        flt = {"field_name": "last_modified_time", "field_values": values, "operator": op}
        res = query(sandbox, tok, {"limit": 100, "offset": 0, "filters": [flt], "orders": [asc]})
        return [r["last_modified_time"] for r in res["data"]["dataList"]]

    assert lmts("BETWEEN", [lo, hi]) == [t for t in times if lo <= t <= hi]
    mid = times[len(times) // 2]
    assert lmts("GTE", [mid]) == [t for t in times if t >= mid][:100]
    assert lmts("GT", [mid]) == [t for t in times if t > mid][:100]
    assert lmts("LT", [times[30]]) == [t for t in times if t < times[30]]
    assert lmts("LTE", [times[30]]) == [t for t in times if t <= times[30]]
    desc = query(
        sandbox,
        tok,
        {"limit": 5, "offset": 0, "orders": [{"fieldName": "last_modified_time", "isAsc": False}]},
    )
    assert [r["last_modified_time"] for r in desc["data"]["dataList"]] == times[::-1][:5]
    proj = query(sandbox, tok, {"limit": 1, "offset": 0, "fieldProjection": ["name"]})
    assert set(proj["data"]["dataList"][0]) == {"_id", "name"}
    bad = query(
        sandbox,
        tok,
        {"limit": 1, "offset": 0, "filters": [{"field_name": "x", "field_values": [1], "operator": "NOPE"}]},
    )
    assert bad["errorCode"] != 0


def test_record_encoding_follows_the_contract(sandbox: FxiaokeSandbox, company: Company):
    tok = get_token(sandbox)
    opps = sandbox.records("opportunities")
    fx = company.for_crm("fxiaoke")
    assert len(opps) == len(fx.deals)
    by_name = {d.name: d for d in fx.deals}
    owners = {open_user_id(u.key) for u in fx.users}
    for rec in opps:
        assert re.fullmatch(r"[0-9a-f]{24}", rec["_id"])
        assert isinstance(rec["amount"], str) and re.fullmatch(r"\d+\.\d{2}", rec["amount"])
        assert isinstance(rec["probability"], str) and rec["mc_currency"] == "CNY"
        assert rec["owner"][0] in owners and re.fullmatch(r"FSUID_[0-9A-F]{32}", rec["owner"][0])
        assert set(rec["owner__r"]) == {"id", "name"}
        assert rec["created_by"] == ["-10000"]
        assert rec["life_status"] == "normal" and rec["is_deleted"] is False
        assert isinstance(rec["last_modified_time"], int) and isinstance(rec["version"], str)
        assert rec["sales_stage__r"] in {s for s, _, _ in fx.pipelines["fxiaoke"]}
    deal = by_name.get(opps[0]["name"]) or fx.deals[0]
    rec = next(r for r in opps if r["name"] == deal.name)
    assert Decimal(rec["amount"]) == deal.amount
    shanghai = datetime.fromtimestamp(rec["close_date"] / 1000, ZoneInfo("Asia/Shanghai"))
    assert shanghai.date() == deal.closing_date and shanghai.hour == 0
    acc = sandbox.records("AccountObj")[0]
    assert isinstance(acc["field_annual_revenue__c"], str) and re.search(r"[\u4e00-\u9fff]", acc["name"])
    assert sandbox.records("contacts")  # ContactObj is served too
    assert query(sandbox, tok, {"limit": 1, "offset": 0}, obj="ContactObj")["errorCode"] == 0
    # Deterministic: a second sandbox encodes the same ids.
    assert {r["_id"] for r in FxiaokeSandbox(company).records("opportunities")} == {r["_id"] for r in opps}


def test_date_fields_are_local_midnight_utc8():
    assert date_ms(date(2020, 4, 4)) == 1585929600000
    assert to_ms(datetime(2020, 4, 3, 16, tzinfo=UTC)) == 1585929600000


def test_employees_and_departments(sandbox: FxiaokeSandbox, company: Company):
    tok = get_token(sandbox)
    auth = {"corpAccessToken": tok["corpAccessToken"], "corpId": tok["corpId"]}
    emps = post(sandbox, USER_LIST_PATH, {**auth, "departmentId": 999999, "fetchChild": True}).json()
    assert emps["errorCode"] == 0
    fx_users = company.for_crm("fxiaoke").users
    assert len(emps["empList"]) == len(fx_users)
    stopped = [e for e in emps["empList"] if e["isStop"]]
    left = [u for u in fx_users if u.left_on]
    assert len(stopped) == len(left)
    for emp in stopped:
        assert isinstance(emp["stopTime"], int) and emp["updateTime"] == emp["stopTime"]
    for emp in emps["empList"]:
        assert re.fullmatch(r"FSUID_[0-9A-F]{32}", emp["openUserId"])
        assert emp["position"] in {"区域总监", "销售经理", "销售代表"}
        assert emp["mainDepartmentId"] in emp["departmentIds"]
        date.fromisoformat(emp["hireDate"])
    deps = post(sandbox, DEPARTMENT_LIST_PATH, auth).json()["departments"]
    tops = [d for d in deps if d["parentId"] == 999999]
    assert sorted(d["name"] for d in tops) == ["China East", "China South"]
    for top in tops:
        teams = [d for d in deps if d["parentId"] == top["departmentId"]]
        assert len(teams) == 2
        one_team = post(
            sandbox, USER_LIST_PATH, {**auth, "departmentId": teams[0]["departmentId"], "fetchChild": False}
        ).json()["empList"]
        assert one_team and all(teams[0]["departmentId"] in e["departmentIds"] for e in one_team)


def test_data_permissions_follow_current_open_user(sandbox: FxiaokeSandbox):
    tok = get_token(sandbox)
    rep = sandbox.records("opportunities")[0]["owner"][0]
    body = {
        "corpAccessToken": tok["corpAccessToken"],
        "corpId": tok["corpId"],
        "currentOpenUserId": rep,
        "data": {"dataObjectApiName": "OpportunityObj", "search_query_info": {"limit": 100, "offset": 0}},
    }
    rows = post(sandbox, QUERY_PATH, body).json()["data"]["dataList"]
    assert rows and all(r["owner"] == [rep] for r in rows)


# --- activity, deletes --------------------------------------------------------------------------------


def test_simulate_and_deletes(sandbox: FxiaokeSandbox, clock: FakeClock):
    tok = get_token(sandbox)
    before = {r["_id"]: r for r in sandbox.records("opportunities")}
    clock.advance(60)
    res = sandbox.simulate("opportunities", create=2, update=3, invalidate=2, delete=1)
    now_ms = to_ms(clock())
    assert res["at"] == now_ms
    after = {r["_id"]: r for r in sandbox.records("opportunities")}
    assert set(res["created"]) <= set(after) and not set(res["created"]) & set(before)
    for rid in res["updated"]:
        assert after[rid]["last_modified_time"] == now_ms
        assert int(after[rid]["version"]) == int(before[rid]["version"]) + 1
        assert Decimal(after[rid]["amount"]) == Decimal(before[rid]["amount"]) + 1000
    assert all(after[rid]["life_status"] == "invalid" for rid in res["invalidated"])
    assert res["deleted"][0] not in after
    since = {"field_name": "last_modified_time", "field_values": [now_ms], "operator": "GTE"}
    changed = query(sandbox, tok, {"limit": 100, "offset": 0, "filters": [since]})["data"]["dataList"]
    assert {r["_id"] for r in changed} == set(res["created"]) | set(res["updated"]) | set(res["invalidated"])
    sandbox.faults.return_invalid = False
    hidden = query(sandbox, tok, {"limit": 100, "offset": 0, "filters": [since]})["data"]["dataList"]
    assert not {r["_id"] for r in hidden} & set(res["invalidated"])


def test_offset_paging_loses_rows_when_modified_during_paging(sandbox: FxiaokeSandbox):
    """Why the connector does not page by plain offset: this fault makes a naive client skip rows."""
    tok = get_token(sandbox)
    hi = to_ms(sandbox.now()) - 1  # the window ends before "now": modified rows leave it
    window = {"field_name": "last_modified_time", "field_values": [0, hi], "operator": "BETWEEN"}
    asc = [{"fieldName": "last_modified_time", "isAsc": True}]
    expected = {r["_id"] for r in sandbox.records("opportunities")}
    sandbox.faults.modify_during_paging = 3
    seen: set[str] = set()
    offset = 0
    while True:
        rows = query(
            sandbox,
            tok,
            {"limit": 100, "offset": offset, "filters": [window], "orders": asc},
            find_explicit_total_num=False,
        )["data"]["dataList"]
        seen |= {r["_id"] for r in rows}
        if len(rows) < 100:
            break
        offset += 100
    assert len(expected - seen) == 3  # three rows shifted onto page 1 after it was read


# --- transport and rate-limit faults ----------------------------------------------------------------------


def test_rate_limit_per_endpoint_window(sandbox: FxiaokeSandbox, clock: FakeClock):
    tok = get_token(sandbox)
    sandbox.faults.rate_limit_per_window = 5
    codes = [query(sandbox, tok, {"limit": 1, "offset": 0})["errorCode"] for _ in range(6)]
    assert codes == [0] * 5 + [14001]
    auth = {"corpAccessToken": tok["corpAccessToken"], "corpId": tok["corpId"]}
    assert post(sandbox, DEPARTMENT_LIST_PATH, auth).json()["errorCode"] == 0  # another endpoint
    clock.advance(20)
    assert query(sandbox, tok, {"limit": 1, "offset": 0})["errorCode"] == 0
    sandbox.faults.rate_limited_calls = 1
    assert query(sandbox, tok, {"limit": 1, "offset": 0})["errorCode"] == 14001


def test_gateway_html_and_service_errors(sandbox: FxiaokeSandbox):
    tok = get_token(sandbox)
    sandbox.faults.gateway_error_calls = 2
    sandbox.faults.gateway_error_status = 504
    for _ in range(2):
        resp = post(sandbox, QUERY_PATH, {})
        assert resp.status_code == 504 and resp.headers["Content-Type"].startswith("text/html")
        with pytest.raises(ValueError):
            resp.json()
    for code in (50009, -1, -2):
        sandbox.faults.service_error_calls = 1
        sandbox.faults.service_error_code = code
        resp = post(sandbox, QUERY_PATH, {})
        assert resp.status_code == 200 and resp.json()["errorCode"] == code
    assert query(sandbox, tok, {"limit": 1, "offset": 0})["errorCode"] == 0
    counts = sandbox.request_counts()
    assert counts[QUERY_PATH] == 6 and counts[TOKEN_PATH] == 1


def test_admin_http_surface(sandbox: FxiaokeSandbox):
    url = sandbox.base_url
    resp = requests.post(url + "/__admin/faults", json={"service_error_calls": 1}, timeout=5)
    assert resp.status_code == 200 and resp.json()["service_error_calls"] == 1
    assert sandbox.faults.service_error_calls == 1
    assert requests.post(url + "/__admin/faults", json={"nope": 1}, timeout=5).status_code == 400
    sim = requests.post(url + "/__admin/simulate", json={"obj": "accounts", "update": 2}, timeout=5).json()
    assert len(sim["updated"]) == 2 and sim["object"] == "AccountObj"
    get_token(sandbox)
    stats = requests.get(url + "/__admin/stats", timeout=5).json()
    assert stats["requests"][TOKEN_PATH] == 1 and stats["tokens_issued"] == 0  # the token call hit the fault
    assert requests.post(url + "/__admin/reset", timeout=5).json() == {"reset": True}
    assert sandbox.request_counts() == {} and sandbox.faults.service_error_calls == 0
    assert json.loads(json.dumps(sandbox.records("accounts")))  # reset data is intact and JSON-clean


def test_empty_company_serves_empty_pages(company: Company, clock: FakeClock):
    empty = replace(company.for_crm("fxiaoke"), deals=[])
    with FxiaokeSandbox(empty, clock=clock) as sb:
        res = query(sb, get_token(sb), {"limit": 100, "offset": 0})
        assert res["errorCode"] == 0 and res["data"]["dataList"] == [] and res["data"]["total"] == 0
