"""The Zoho sandbox speaks the Zoho CRM v8 wire protocol: auth, paging limits, empty answers, faults.

These tests talk raw HTTP to a real :class:`ZohoSandbox` so that the connector tests built on it
are honest: if the sandbox were lenient, a connector bug would pass unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest
import requests

from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.zoho.server import ZohoSandbox

AS_OF = date(2026, 11, 1)
T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
FIELDS = "Deal_Name,Amount,Modified_Time"


class FakeClock:
    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@cache
def _base() -> Company:
    return generate_company(seed=7, deals=5200, as_of=AS_OF)


def zoho_company(n_deals: int, *, modified: datetime | None = None) -> Company:
    company = _base().for_crm("zoho")
    assert len(company.deals) >= n_deals
    company.deals = [replace(d, modified_at=modified or d.modified_at) for d in company.deals[:n_deals]]
    return company


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock):
    with ZohoSandbox(zoho_company(300), clock=clock) as sb:
        yield sb


def get_token(sb: ZohoSandbox) -> str:
    resp = requests.post(
        f"{sb.accounts_url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sb.CLIENT_ID,
            "client_secret": sb.CLIENT_SECRET,
            "refresh_token": sb.REFRESH_TOKEN,
        },
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def api(sb: ZohoSandbox, path: str, token: str | None = None, *, headers: dict | None = None, **params):
    hdrs = {"Authorization": f"Zoho-oauthtoken {token or get_token(sb)}", **(headers or {})}
    return requests.get(f"{sb.api_url}/crm/v8{path}", params=params, headers=hdrs, timeout=5)


# --- auth -----------------------------------------------------------------------------------------
def test_token_flow_returns_distinct_api_domain(sandbox: ZohoSandbox):
    resp = requests.post(
        f"{sandbox.accounts_url}/oauth/v2/token",
        params={
            "grant_type": "refresh_token",
            "client_id": sandbox.CLIENT_ID,
            "client_secret": sandbox.CLIENT_SECRET,
            "refresh_token": sandbox.REFRESH_TOKEN,
        },
        timeout=5,
    )
    body = resp.json()
    assert resp.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["api_domain"] == sandbox.api_url != sandbox.accounts_url
    assert api(sandbox, "/Deals", body["access_token"], fields=FIELDS).status_code == 200


@pytest.mark.parametrize(
    ("field", "error"),
    [("client_secret", "invalid_client"), ("client_id", "invalid_client"), ("refresh_token", "invalid_code")],
)
def test_token_flow_rejects_bad_credentials(sandbox: ZohoSandbox, field: str, error: str):
    data = {
        "grant_type": "refresh_token",
        "client_id": sandbox.CLIENT_ID,
        "client_secret": sandbox.CLIENT_SECRET,
        "refresh_token": sandbox.REFRESH_TOKEN,
        field: "wrong",
    }
    resp = requests.post(f"{sandbox.accounts_url}/oauth/v2/token", data=data, timeout=5)
    assert resp.status_code == 400 and resp.json() == {"error": error}


def test_legacy_expires_in_is_milliseconds(sandbox: ZohoSandbox):
    sandbox.faults.legacy_expires_in = True
    resp = requests.post(
        f"{sandbox.accounts_url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.CLIENT_ID,
            "client_secret": sandbox.CLIENT_SECRET,
            "refresh_token": sandbox.REFRESH_TOKEN,
        },
        timeout=5,
    )
    assert resp.json()["expires_in"] == 3_600_000 and resp.json()["expires_in_sec"] == 3600


def test_crm_call_to_accounts_host_fails(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    resp = requests.get(
        f"{sandbox.accounts_url}/crm/v8/Deals",
        params={"fields": FIELDS},
        headers={"Authorization": f"Zoho-oauthtoken {token}"},
        timeout=5,
    )
    assert resp.status_code == 404 and "html" in resp.headers["Content-Type"]


def test_auth_header_strictness(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    url = f"{sandbox.api_url}/crm/v8/Deals"
    missing = requests.get(url, params={"fields": FIELDS}, timeout=5)
    assert missing.status_code == 401 and missing.json()["code"] == "AUTHENTICATION_FAILURE"
    bearer = requests.get(
        url, params={"fields": FIELDS}, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert bearer.status_code == 401
    unknown = api(sandbox, "/Deals", "1000.not-a-token", fields=FIELDS)
    assert unknown.status_code == 401
    assert unknown.json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }
    sandbox.faults.accept_bearer = True
    bearer = requests.get(
        url, params={"fields": FIELDS}, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert bearer.status_code == 200


def test_token_expires_after_n_calls_and_after_an_hour(sandbox: ZohoSandbox, clock: FakeClock):
    sandbox.faults.token_max_calls = 2
    sandbox.faults.auth_error_code = "AUTHENTICATION_FAILURE"
    token = get_token(sandbox)
    assert [api(sandbox, "/Deals", token, fields=FIELDS).status_code for _ in range(3)] == [200, 200, 401]
    assert api(sandbox, "/Deals", token, fields=FIELDS).json()["code"] == "AUTHENTICATION_FAILURE"
    sandbox.faults.token_max_calls = None
    token = get_token(sandbox)
    clock.advance(3600)
    assert api(sandbox, "/Deals", token, fields=FIELDS).json()["code"] == "INVALID_TOKEN"


def test_refresh_throttled_after_ten_per_ten_minutes(sandbox: ZohoSandbox, clock: FakeClock):
    for _ in range(10):
        get_token(sandbox)
    resp = requests.post(
        f"{sandbox.accounts_url}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.CLIENT_ID,
            "client_secret": sandbox.CLIENT_SECRET,
            "refresh_token": sandbox.REFRESH_TOKEN,
        },
        timeout=5,
    )
    assert resp.status_code == 400 and resp.json()["error"] == "Access Denied"
    assert "too many requests continuously" in resp.json()["error_description"]
    clock.advance(600)
    get_token(sandbox)


# --- records: parameters and paging --------------------------------------------------------------------
def test_fields_and_per_page_limits(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    missing = api(sandbox, "/Deals", token)
    assert missing.status_code == 400 and missing.json()["code"] == "REQUIRED_PARAM_MISSING"
    too_many = api(sandbox, "/Deals", token, fields=",".join(f"F{i}" for i in range(51)))
    assert too_many.status_code == 400 and too_many.json()["code"] == "LIMIT_EXCEEDED"
    assert api(sandbox, "/Deals", token, fields=",".join(f"F{i}" for i in range(50))).status_code == 200
    big_page = api(sandbox, "/Deals", token, fields=FIELDS, per_page=201)
    assert big_page.status_code == 400 and big_page.json()["status"] == "error"
    assert api(sandbox, "/Nope", token, fields=FIELDS).json()["code"] == "INVALID_MODULE"


def test_only_requested_fields_and_default_order(sandbox: ZohoSandbox):
    body = api(sandbox, "/Deals", fields="Deal_Name,Modified_Time", per_page=5).json()
    rec = body["data"][0]
    assert {k for k in rec if not k.startswith("$")} == {"id", "Deal_Name", "Modified_Time"}
    assert rec["$approval_state"] == "approved"
    ids = [r["id"] for r in body["data"]]
    assert ids == sorted(ids, reverse=True) and body["info"]["sort_order"] == "desc"
    asc = api(sandbox, "/Deals", fields=FIELDS, sort_by="Modified_Time", sort_order="asc").json()["data"]
    times = [datetime.fromisoformat(r["Modified_Time"]) for r in asc]
    assert times == sorted(times)


def test_discrete_limit_and_page_token_binding(clock: FakeClock):
    with ZohoSandbox(zoho_company(2200), clock=clock) as sb:
        token = get_token(sb)
        page11 = api(sb, "/Deals", token, fields=FIELDS, page=11, per_page=200)
        assert page11.status_code == 400
        assert page11.json() == {
            "code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
            "details": {"limit": 2000},
            "message": "You can only get the first 2000 records without using page_token param",
            "status": "error",
        }
        page10 = api(sb, "/Deals", token, fields=FIELDS, page=10, per_page=200).json()
        next_token = page10["info"]["next_page_token"]
        assert page10["info"]["more_records"] and next_token
        rest = api(sb, "/Deals", token, fields=FIELDS, per_page=200, page_token=next_token).json()
        assert rest["info"]["count"] == 200 and rest["info"]["more_records"] is False
        seen = {r["id"] for r in page10["data"]}
        assert not seen & {r["id"] for r in rest["data"]}
        mismatch = api(sb, "/Deals", token, fields="Deal_Name", per_page=200, page_token=next_token)
        assert mismatch.json()["code"] == "TOKEN_BOUND_DATA_MISMATCH"
        both = api(sb, "/Deals", token, fields=FIELDS, per_page=200, page=11, page_token=next_token)
        assert both.json()["code"] == "AMBIGUITY_DURING_PROCESSING"
        assert api(sb, "/Deals", token, fields=FIELDS, page_token="bogus").json()["code"] == "INVALID_DATA"
        clock.advance(24 * 3600)
        expired = api(sb, "/Deals", get_token(sb), fields=FIELDS, per_page=200, page_token=next_token)
        assert expired.json()["code"] == "EXPIRED_VALUE"


def test_204_and_304_have_empty_bodies(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    sandbox.simulate("Leads", delete=len(sandbox.live_ids("Leads")))
    empty = api(sandbox, "/Leads", token, fields="Last_Name", converted="both")
    assert empty.status_code == 204 and empty.content == b""
    future = (T0 + timedelta(days=1)).isoformat()
    unchanged = api(sandbox, "/Deals", token, headers={"If-Modified-Since": future}, fields=FIELDS)
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_if_modified_since_is_inclusive(sandbox: ZohoSandbox, clock: FakeClock):
    touched = sandbox.simulate("Deals", update=3)["updated"]
    since = clock.now.astimezone().isoformat()  # the exact second, another offset
    body = api(sandbox, "/Deals", headers={"If-Modified-Since": since}, fields=FIELDS).json()
    assert sorted(r["id"] for r in body["data"]) == touched


def test_modification_between_pages_moves_a_row(sandbox: ZohoSandbox, clock: FakeClock):
    clock.advance(60)
    sandbox.faults.modify_after_first_page = 1
    token = get_token(sandbox)
    params = {"fields": FIELDS, "sort_by": "Modified_Time", "sort_order": "asc", "per_page": 100}
    first = api(sandbox, "/Deals", token, **params, page=1).json()["data"]
    second = api(sandbox, "/Deals", token, **params, page=2).json()["data"]
    third = api(sandbox, "/Deals", token, **params, page=3).json()["data"]
    ids = {r["id"] for r in first + second + third}
    assert len(ids) == 299  # naive offset paging skips one record and reads the touched one twice
    assert third[-1]["id"] == first[0]["id"]


# --- deletes and users -----------------------------------------------------------------------------------
def test_deleted_records_shapes_filter_and_retention(sandbox: ZohoSandbox, clock: FakeClock):
    token = get_token(sandbox)
    assert api(sandbox, "/Deals/deleted", token).status_code == 204
    recycled = sandbox.simulate("Deals", delete=2)["deleted"]
    clock.advance(10)
    purged = sandbox.simulate("Deals", delete=1, permanent=True)["deleted"]
    body = api(sandbox, "/Deals/deleted", token, type="all").json()
    assert body["data"][0]["id"] == purged[0]
    by_id = {r["id"]: r for r in body["data"]}
    assert set(by_id) == set(recycled + purged)
    assert by_id[recycled[0]]["type"] == "recycle" and by_id[recycled[0]]["deleted_by"]["id"]
    assert by_id[recycled[0]]["display_name"]
    perm = by_id[purged[0]]
    assert (
        perm["type"] == "permanent"
        and perm["deleted_by"] is perm["display_name"] is perm["created_by"] is None
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-0[78]:00", perm["deleted_time"])
    assert [r["id"] for r in api(sandbox, "/Deals/deleted", token, type="permanent").json()["data"]] == purged
    assert recycled[0] not in {
        r["id"]
        for r in api(sandbox, "/Deals", token, fields=FIELDS, per_page=200, sort_by="id").json()["data"]
    }
    clock.advance(61 * 86400)
    assert [r["id"] for r in api(sandbox, "/Deals/deleted", get_token(sandbox)).json()["data"]] == purged
    clock.advance(60 * 86400)
    assert api(sandbox, "/Deals/deleted", get_token(sandbox)).status_code == 204


def test_users_shape_and_type_filter(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    body = api(sandbox, "/users", token, type="AllUsers").json()
    users = body["users"]
    assert "data" not in body and len(users) == len(sandbox.company.users)
    left = [u for u in users if u["Date_of_Leaving"]]
    assert left and all(u["status"] == "inactive" for u in left)
    assert {u["role"]["name"] for u in users} == {
        "Regional Director",
        "Sales Manager",
        "Sales Representative",
    }
    rep = next(u for u in users if u["role"]["name"] == "Sales Representative")
    assert rep["Reporting_To"]["id"] and rep["Sales_Team"] and rep["territories"][0]["name"]
    active = api(sandbox, "/users", token, type="ActiveUsers").json()["users"]
    inactive = api(sandbox, "/users", token, type="DeactiveUsers").json()["users"]
    assert len(active) + len(inactive) == len(users) and all(u["status"] == "inactive" for u in inactive)


def test_record_encoding_realism(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    fields = (
        "Deal_Name,Amount,Currency,Exchange_Rate,Stage,Closing_Date,Owner,Account_Name,Modified_Time,"
        "Created_Time,Pipeline,Product_Name"
    )
    deals = [r for p in (1, 2) for r in api(sandbox, "/Deals", token, fields=fields, page=p).json()["data"]]
    assert all(re.fullmatch(r"\d{19}", d["id"]) for d in deals)
    offsets = {d["Modified_Time"][-6:] for d in deals} | {d["Created_Time"][-6:] for d in deals}
    assert offsets == {"-07:00", "-08:00"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d["Closing_Date"]) for d in deals)
    assert {d["Currency"] for d in deals} == {"USD", "EUR"}
    eur = next(d for d in deals if d["Currency"] == "EUR")
    assert eur["Exchange_Rate"] > 1 and isinstance(eur["Amount"], float)
    assert set(deals[0]["Owner"]) == {"name", "id", "email"}
    assert any(d["Account_Name"] is None for d in deals)
    fields_meta = api(sandbox, "/settings/fields", token, module="Deals").json()["fields"]
    assert {"Deal_Name", "Modified_Time", "Product_Name"} <= {f["api_name"] for f in fields_meta}
    assert any("json_type" not in f for f in fields_meta)


# --- faults, admin, simulation ---------------------------------------------------------------------
def test_transient_faults(sandbox: ZohoSandbox):
    token = get_token(sandbox)
    sandbox.faults.rate_limits, sandbox.faults.retry_after = 1, 7
    limited = api(sandbox, "/Deals", token, fields=FIELDS)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    sandbox.faults.update({"server_errors": 1, "server_error_status": 502, "server_error_body": "html"})
    html = api(sandbox, "/Deals", token, fields=FIELDS)
    assert html.status_code == 502 and html.text.startswith("<html>")
    sandbox.faults.update({"server_errors": 1, "server_error_status": 503, "server_error_body": "empty"})
    empty = api(sandbox, "/Deals", token, fields=FIELDS)
    assert empty.status_code == 503 and empty.content == b""
    sandbox.faults.connection_resets = 1
    with pytest.raises(requests.exceptions.RequestException):
        api(sandbox, "/Deals", token, fields=FIELDS)
    sandbox.faults.update({"empty_pages_with_more": 1, "missing_info": 1})
    odd = api(sandbox, "/Deals", token, fields=FIELDS).json()
    assert odd["data"] == [] and "info" not in odd
    assert api(sandbox, "/Deals", token, fields=FIELDS).json()["info"]["count"] == 200
    sandbox.faults.update({"delay_seconds": 0.3, "fault_path": "/Accounts"})
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(
            f"{sandbox.api_url}/crm/v8/Accounts",
            params={"fields": FIELDS},
            timeout=0.1,
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
        )
    assert api(sandbox, "/Deals", token, fields=FIELDS).status_code == 200


def test_admin_endpoints_and_request_counts(sandbox: ZohoSandbox, clock: FakeClock):
    admin = f"{sandbox.api_url}/__admin"
    assert requests.post(f"{admin}/faults", json={"rate_limits": 2}, timeout=5).json()["rate_limits"] == 2
    assert sandbox.faults.rate_limits == 2
    assert requests.post(f"{admin}/faults", json={"nope": 1}, timeout=5).status_code == 400
    clock.advance(5)
    result = requests.post(
        f"{admin}/simulate", json={"module": "deals", "create": 2, "update": 3, "delete": 1}, timeout=5
    ).json()
    assert len(result["created"]) == 2 and len(result["updated"]) == 3 and len(result["deleted"]) == 1
    assert api(sandbox, "/Deals", fields=FIELDS).status_code == 429
    stats = requests.get(f"{admin}/stats", timeout=5).json()
    assert stats["requests"]["/crm/v8/Deals"] == 1 and stats["records"]["Deals"] == 301
    assert requests.post(f"{admin}/reset", timeout=5).json() == {"ok": True}
    assert sandbox.faults.rate_limits == 0 and sandbox.request_counts() == {}
    body = api(
        sandbox, "/Deals", fields=FIELDS, sort_by="Modified_Time", sort_order="desc", per_page=5
    ).json()
    newest = {r["id"] for r in body["data"]}
    assert set(result["created"] + result["updated"]) == newest
    assert all(datetime.fromisoformat(r["Modified_Time"]) == clock.now for r in body["data"])
    assert sandbox.request_counts() == {"/oauth/v2/token": 1, "/crm/v8/Deals": 1}
