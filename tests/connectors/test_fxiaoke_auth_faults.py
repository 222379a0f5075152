"""Fxiaoke client-credentials auth, wrong host, daily quota and connection resets (crm_apis §4.2).

Each behaviour is shown twice: the sandbox answering raw HTTP the way the gateway does, then the
connector surviving it (or failing fast with a message an operator can act on).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
from fxiaoke_support import AS_OF, FakeClock, RecordingSession, post

from flows.config.settings import Settings
from flows.crm.base import CrmError
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.wire import DEPARTMENT_LIST_PATH, OAUTH_TOKEN_PATH, QUERY_PATH, TOKEN_PATH


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=5, reps=8, deals=300, as_of=AS_OF)


def oauth_token(sb: FxiaokeSandbox) -> dict:
    creds = {
        "appId": sb.APP_ID,
        "appSecret": sb.APP_SECRET,
        "permanentCode": sb.PERMANENT_CODE,
        "grantType": "app_secret",
    }
    return post(sb, OAUTH_TOKEN_PATH, creds).json()


def records(conn: FxiaokeConnector, obj: str) -> list:
    return [r for p in conn.pages(obj, {}, full_refresh=True) for r in p.records]


# --- client-credentials (oauth2) mode ----------------------------------------------------------------------


def test_sandbox_oauth2_token_and_headers(sandbox: FxiaokeSandbox, clock: FakeClock):
    tok = oauth_token(sandbox)
    assert tok["errorCode"] == 0 and tok["expiresIn"] == 7200 and tok["ea"] == sandbox.EA
    assert tok["openUserId"] == sandbox.ADMIN_OPEN_USER_ID and tok["appId"] == sandbox.APP_ID
    headers = {
        "authorization": f"Bearer {tok['accessToken']}",
        "x-fs-ea": tok["ea"],
        "x-fs-userid": tok["openUserId"],
    }
    data = {"data": {"dataObjectApiName": "AccountObj", "search_query_info": {"limit": 5, "offset": 0}}}
    ok = post(sandbox, QUERY_PATH, data, headers).json()  # no corpAccessToken in the body at all
    assert ok["errorCode"] == 0 and len(ok["data"]["dataList"]) == 5
    assert post(sandbox, QUERY_PATH, data, {**headers, "x-fs-ea": "other"}).json()["errorCode"] == 20016
    assert (
        post(sandbox, QUERY_PATH, data, {**headers, "authorization": "Bearer nope"}).json()["errorCode"]
        == 20016
    )
    legacy = post(
        sandbox,
        TOKEN_PATH,
        {"appId": sandbox.APP_ID, "appSecret": sandbox.APP_SECRET, "permanentCode": sandbox.PERMANENT_CODE},
    ).json()
    as_bearer = {**headers, "authorization": f"Bearer {legacy['corpAccessToken']}"}
    assert post(sandbox, QUERY_PATH, data, as_bearer).json()["errorCode"] == 20016  # modes do not mix
    clock.advance(6599)
    assert oauth_token(sandbox)["accessToken"] == tok["accessToken"]  # same token until 6600 s
    clock.advance(1)
    assert oauth_token(sandbox)["accessToken"] != tok["accessToken"]
    clock.advance(600)
    assert post(sandbox, QUERY_PATH, data, headers).json()["errorCode"] == 20016  # dead at 7200 s
    bad = post(
        sandbox, OAUTH_TOKEN_PATH, {"appId": sandbox.APP_ID, "appSecret": "x", "grantType": "app_secret"}
    )
    assert bad.status_code == 200 and bad.json()["errorCode"] == 20006


def test_connector_oauth2_mode(make_connector, sandbox: FxiaokeSandbox):
    session = RecordingSession()
    conn = make_connector(auth_mode="oauth2", session=session)
    opps = records(conn, "opportunities")
    assert {r.id for r in opps} == {r["_id"] for r in sandbox.records("opportunities")}
    assert len(records(conn, "opportunity_stage_changes")) == len(
        sandbox.records("opportunity_stage_changes")
    )
    counts = sandbox.request_counts()
    assert counts[OAUTH_TOKEN_PATH] == 1 and TOKEN_PATH not in counts
    token = sandbox._state.tokens[-1].value
    for sent in session.sent:
        url, headers, body = sent.url, sent.headers, sent.body
        if url.endswith(OAUTH_TOKEN_PATH):
            assert body["grantType"] == "app_secret" and not headers
            continue
        assert headers == {
            "authorization": f"Bearer {token}",
            "x-fs-ea": sandbox.EA,
            "x-fs-userid": sandbox.ADMIN_OPEN_USER_ID,
        }
        assert "corpAccessToken" not in body and "corpId" not in body


def test_connector_oauth2_refreshes_once_on_20016(make_connector, sandbox: FxiaokeSandbox, caplog):
    caplog.set_level(logging.DEBUG)
    conn = make_connector(auth_mode="oauth2")
    pages = conn.pages("leads", {}, full_refresh=True)
    first = next(pages)
    old = sandbox._state.tokens[-1].value
    sandbox.faults.expire_token_now = True
    rest = [r for p in pages for r in p.records]
    assert len(first.records) + len(rest) >= len(sandbox.records("leads"))
    assert sandbox.request_counts()[OAUTH_TOKEN_PATH] == 2 and conn.stats("leads").token_refreshes == 1
    new = sandbox._state.tokens[-1].value
    assert old not in caplog.text and new not in caplog.text


def test_auth_mode_from_settings(sandbox: FxiaokeSandbox, clock: FakeClock):
    settings = Settings(
        _env_file=None,
        fxiaoke_base_url=sandbox.base_url,
        fxiaoke_app_id=sandbox.APP_ID,
        fxiaoke_app_secret=sandbox.APP_SECRET,
        fxiaoke_permanent_code=sandbox.PERMANENT_CODE,
        fxiaoke_open_user_id=sandbox.ADMIN_OPEN_USER_ID,
        fxiaoke_auth_mode="oauth2",
        fxiaoke_custom_objects="object_visit__c, ",
    )
    conn = FxiaokeConnector.from_settings(settings, clock=clock)
    try:
        assert conn.auth_mode == "oauth2" and conn.objects[-1] == "custom_object_visit__c"
        assert records(conn, "departments")
        assert sandbox.request_counts()[OAUTH_TOKEN_PATH] == 1
    finally:
        conn.close()
    with pytest.raises(CrmError, match="auth mode"):
        FxiaokeConnector(
            base_url=sandbox.base_url,
            app_id="a",
            app_secret="b",
            permanent_code="c",
            open_user_id="d",
            auth_mode="x",
        )


# --- wrong host ------------------------------------------------------------------------------------------


def test_wrong_host_answers_302_html_and_connector_fails_fast(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.wrong_host = True
    resp = post(sandbox, TOKEN_PATH, {})
    assert resp.status_code == 302 and resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Location"].startswith("https://www.fxiaoke.com/")
    conn = make_connector()
    with pytest.raises(CrmError, match=r"HTTP 302 \(text/html\).*open\.fxiaoke\.com"):
        records(conn, "departments")
    assert conn.stats("departments").retries == 0 and conn.stats("departments").api_calls == 1
    sandbox.faults.wrong_host = False
    host = requests.post(
        sandbox.base_url + DEPARTMENT_LIST_PATH,
        json={},
        headers={"Host": "www.fxiaoke.com"},
        allow_redirects=False,
        timeout=5,
    )
    assert host.status_code == 302  # the Host header alone triggers it too


# --- daily quota --------------------------------------------------------------------------------------------


def test_sandbox_daily_quota_resets_at_shanghai_midnight(sandbox: FxiaokeSandbox, clock: FakeClock):
    clock.now = datetime(2026, 3, 31, 15, 59, 0, tzinfo=UTC)  # 23:59 in Shanghai
    sandbox.faults.daily_quota = 2
    creds = {
        "appId": sandbox.APP_ID,
        "appSecret": sandbox.APP_SECRET,
        "permanentCode": sandbox.PERMANENT_CODE,
    }
    codes = [post(sandbox, TOKEN_PATH, creds).json()["errorCode"] for _ in range(3)]
    assert codes == [0, 0, 30002]
    clock.advance(59)
    assert post(sandbox, TOKEN_PATH, creds).json()["errorCode"] == 30002  # 23:59:59
    clock.advance(1)
    assert post(sandbox, TOKEN_PATH, creds).json()["errorCode"] == 0  # 00:00 Asia/Shanghai


def test_connector_stops_on_daily_quota_with_a_clear_message(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock
):
    clock.now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai: 4 h to the reset
    sandbox.faults.daily_quota = 3  # token + 2 pages
    conn = make_connector(page_size=10)
    pages = conn.pages("opportunities", {}, full_refresh=True)
    landed = [next(pages), next(pages)]
    with pytest.raises(CrmError) as err:
        next(pages)
    msg = str(err.value)
    assert msg.startswith(
        "fxiaoke opportunities: the tenant's daily OpenAPI quota is used up (errorCode 30002"
    )
    assert "00:00 Asia/Shanghai (2026-03-31 16:00 UTC, in 4.0 h)" in msg and "traceId" in msg
    stats = conn.stats("opportunities")
    assert stats.retries == 0 and stats.api_calls == 4  # no spinning
    assert all(p.cursor for p in landed)  # what landed before keeps its committed cursor


# --- connection reset mid-response ------------------------------------------------------------------------


def test_sandbox_resets_the_connection_mid_body(sandbox: FxiaokeSandbox):
    sandbox.faults.reset_calls = 1
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        post(sandbox, TOKEN_PATH, {})
    assert post(sandbox, TOKEN_PATH, {}).status_code == 200


def test_connector_retries_a_reset_connection(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector()
    records(conn, "departments")  # token first
    sandbox.faults.reset_calls = 2
    got = records(conn, "payments")
    assert {r.id for r in got} == {r["_id"] for r in sandbox.records("payments")}
    assert conn.stats("payments").retries == 2


def test_connector_gives_up_on_endless_resets(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.reset_calls = 100
    with pytest.raises(CrmError, match=r"failed after 4 attempts: connection error"):
        records(make_connector(), "departments")
