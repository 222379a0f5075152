"""FxiaokeConnector against a real FxiaokeSandbox over HTTP: auth, paging, faults, deletes, encoding.

Sleeps are injected and advance the shared fake clock, so backoff and rate-limit windows are
exercised without real waiting.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fxiaoke_support import AS_OF, FakeClock, RecordingSession, collect

from flows.config.settings import Settings
from flows.crm.base import CrmError
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.crm.fxiaoke.values import fxiaoke_date, fxiaoke_decimal, ms_to_datetime
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.fxiaoke.wire import QUERY_PATH, TOKEN_PATH, object_id, to_ms
from flows.warehouse.database import RawRecord

SECRETS = (FxiaokeSandbox.APP_SECRET, FxiaokeSandbox.PERMANENT_CODE)


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(seed=11, reps=8, deals=700, as_of=AS_OF)


def latest(records: list[RawRecord]) -> dict[str, RawRecord]:
    out: dict[str, RawRecord] = {}
    for rec in records:
        if rec.id not in out or rec.modified_at >= out[rec.id].modified_at:  # type: ignore[operator]
            out[rec.id] = rec
    return out


def sized_sandbox(company: Company, clock: FakeClock, n: int) -> FxiaokeSandbox:
    fx = company.for_crm("fxiaoke")
    assert len(fx.deals) >= n
    return FxiaokeSandbox(replace(fx, deals=fx.deals[:n]), clock=clock)


# --- basics ------------------------------------------------------------------------------------------


def test_protocol_surface(make_connector):
    conn = make_connector()
    assert conn.source == "fxiaoke"
    assert conn.objects == (
        "employees",
        "departments",
        "personnel",
        "accounts",
        "contacts",
        "leads",
        "opportunities",
        "opportunity_stage_changes",
        "sales_orders",
        "invoices",
        "payments",
    )
    with pytest.raises(CrmError, match="unknown object"):
        list(conn.pages("deals", {}))


def test_full_refresh_lands_every_record_untouched(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector()
    records, pages = collect(conn, "opportunities", full=True)
    stored = {r["_id"]: r for r in sandbox.records("opportunities")}
    assert len(records) == len(stored) and set(latest(records)) == set(stored)
    for rec in records:
        assert rec.record == stored[rec.id]  # the API object, untouched (amount stays a string)
        assert rec.modified_at == ms_to_datetime(stored[rec.id]["last_modified_time"])
        assert rec.modified_at.tzinfo is not None and rec.deleted_at is None
    max_ms = max(r["last_modified_time"] for r in stored.values())
    assert pages[-1].cursor == ("opportunities", str(max_ms))
    cursors = [int(p.cursor[1]) for p in pages if p.cursor]
    assert cursors == sorted(cursors)  # each page's cursor is safe to commit, and never goes back
    accounts, _ = collect(conn, "accounts", full=True)
    assert {r.id for r in accounts} == {r["_id"] for r in sandbox.records("accounts")}


@pytest.mark.parametrize(("n", "queries"), [(0, 1), (100, 2), (101, 2), (250, 3)])
def test_paging_boundaries_stop_on_short_page(
    company: Company, clock: FakeClock, make_connector, n: int, queries: int
):
    with sized_sandbox(company, clock, n) as sb:
        session = RecordingSession()
        conn = make_connector(sb, session=session)
        records, _ = collect(conn, "opportunities", full=True)
        assert len(records) == n and len({r.id for r in records}) == n
        bodies = [sent.body for sent in session.sent if sent.url.endswith(QUERY_PATH)]
        assert len(bodies) == queries == sb.request_counts()[QUERY_PATH]
        for body in bodies:
            data = body["data"]
            assert data["find_explicit_total_num"] is False  # no total: the short page ends the run
            info = data["search_query_info"]
            assert info["limit"] == 100 and info["offset"] % info["limit"] == 0
            assert info["orders"][0] == {"fieldName": "last_modified_time", "isAsc": True}
        assert conn.stats("opportunities").api_calls == queries + 1  # + the token


def test_employees_and_departments_full_list(make_connector, company: Company, clock: FakeClock):
    # The generator's leaver works in a Zoho region; make one Fxiaoke rep who left and still owns deals.
    fx = company.for_crm("fxiaoke")
    leaver = next(u for u in fx.users if u.role == "rep" and any(d.owner_key == u.key for d in fx.deals))
    users = [replace(u, left_on=AS_OF - timedelta(days=30)) if u is leaver else u for u in fx.users]
    with FxiaokeSandbox(replace(fx, users=users), clock=clock) as sandbox:
        _check_employees_and_departments(make_connector(sandbox), sandbox)


def _check_employees_and_departments(conn: FxiaokeConnector, sandbox: FxiaokeSandbox) -> None:
    emps, pages = collect(conn, "employees")
    assert len(pages) == 1 and pages[0].cursor is None
    stored = {e["openUserId"]: e for e in sandbox.employees()}
    assert {r.id for r in emps} == set(stored)
    stopped = [r for r in emps if r.record["isStop"]]
    assert stopped and all(not r.is_deleted for r in stopped)  # a leaver still owns deals: not a delete
    for rec in emps:
        assert rec.modified_at == ms_to_datetime(stored[rec.id]["updateTime"])
    deps, _ = collect(conn, "departments")
    assert {r.id for r in deps} == {str(d["departmentId"]) for d in sandbox.departments()}
    assert all(r.modified_at is not None for r in deps)


# --- auth --------------------------------------------------------------------------------------------


def test_token_reused_then_refreshed_at_6600_s(make_connector, sandbox: FxiaokeSandbox, clock: FakeClock):
    conn = make_connector()
    collect(conn, "departments")
    collect(conn, "employees")
    collect(conn, "accounts", full=True)
    assert sandbox.request_counts()[TOKEN_PATH] == 1
    clock.advance(6599)
    collect(conn, "departments")
    assert sandbox.request_counts()[TOKEN_PATH] == 1
    clock.advance(1)
    collect(conn, "departments")
    assert sandbox.request_counts()[TOKEN_PATH] == 2
    assert conn.stats("departments").token_refreshes == 1


def test_token_expired_mid_run_refreshes_once_and_replays(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector()
    pages = conn.pages("opportunities", {}, full_refresh=True)
    first = next(pages)
    sandbox.faults.expire_token_now = True  # the server forgets the token between page 1 and 2
    rest = [r for p in pages for r in p.records]
    ids = {r.id for r in first.records} | {r.id for r in rest}
    assert ids == {r["_id"] for r in sandbox.records("opportunities")}
    assert sandbox.request_counts()[TOKEN_PATH] == 2
    stats = conn.stats("opportunities")
    assert stats.token_refreshes == 1 and stats.retries == 0


def test_token_rejected_twice_is_an_error_not_a_loop(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.expire_token_after_calls = 0  # every token dies on first use
    conn = make_connector()
    with pytest.raises(CrmError, match="errorCode 20016"):
        collect(conn, "departments")
    assert sandbox.request_counts()[TOKEN_PATH] == 2


# --- incremental, ordering, deletes ----------------------------------------------------------------------


def test_incremental_window_and_identical_timestamps(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock
):
    conn = make_connector()
    _, pages = collect(conn, "opportunities", full=True)
    cursor = pages[-1].cursor[1]
    clock.advance(3600)
    sim = sandbox.simulate("opportunities", update=150, create=20)  # 170 rows share one millisecond
    records, pages = collect(conn, "opportunities", {"opportunities": cursor})
    changed = set(sim["updated"]) | set(sim["created"])
    assert changed <= {r.id for r in records}
    assert len(records) == len({r.id for r in records})  # each row exactly once, even across the tie
    assert pages[-1].cursor == ("opportunities", str(sim["at"]))
    # The window starts at cursor - overlap: only rows modified since then come back.
    lo = int(cursor) - 10 * 60 * 1000
    assert all(r.record["last_modified_time"] >= lo for r in records)
    for rec in records:
        if rec.id in sim["updated"]:
            assert rec.record["last_modified_time"] == sim["at"]


def test_tie_larger_than_a_page_that_shrinks_while_paged(
    make_connector, sandbox: FxiaokeSandbox, clock: FakeClock
):
    """250 rows in one instant, paged by offset; 3 of them are modified after the first instant page."""
    clock.advance(60)
    tie = sandbox.simulate("opportunities", update=250)
    since = tie["at"] - 1
    clock.advance(60)
    conn = make_connector(overlap=timedelta(0))
    pages = conn.pages("opportunities", {"opportunities": str(since)})
    first = next(pages)  # keyset page: 100 rows of the tie
    # The next keyset page finds a full page at one instant, so the connector pages the instant by
    # offset; right after that first instant page, 3 of its rows are modified and leave the instant.
    sandbox.faults.modify_during_paging = 3
    sandbox.faults.modify_after_pages = 1
    records = first.records + [r for p in pages for r in p.records]
    seen = {r.id for r in records}
    assert set(tie["updated"]) <= seen
    assert len(records) == len(seen) + 3  # the three moved rows come back once more, with new times


def test_modification_during_paging_loses_nothing(make_connector, sandbox: FxiaokeSandbox, clock: FakeClock):
    # The connector's "now" lags the server's by a second, so rows modified mid-run leave its window.
    conn = make_connector(clock=lambda: clock() - timedelta(seconds=1))
    expected = {r["_id"] for r in sandbox.records("opportunities")}
    sandbox.faults.modify_during_paging = 5
    modified_at = to_ms(clock())
    pages = conn.pages("opportunities", {}, full_refresh=True)
    first = next(pages)
    rest = list(pages)
    seen = {r.id for r in first.records} | {r.id for p in rest for r in p.records}
    assert seen == expected  # plain offset paging loses 5 rows here (see the sandbox tests)
    moved = {r["_id"] for r in sandbox.records("opportunities") if r["last_modified_time"] == modified_at}
    assert len(moved) == 5
    # Their new versions are outside this run's window; the next run picks them up from the cursor.
    clock.advance(60)
    records, _ = collect(conn, "opportunities", {"opportunities": rest[-1].cursor[1]})
    assert moved <= {r.id for r in records if r.record["last_modified_time"] == modified_at}


def test_invalid_rows_land_as_deletes(make_connector, sandbox: FxiaokeSandbox, clock: FakeClock):
    conn = make_connector()
    _, pages = collect(conn, "opportunities", full=True)
    clock.advance(120)
    sim = sandbox.simulate("opportunities", invalidate=3, delete=1)
    records, _ = collect(conn, "opportunities", {"opportunities": pages[-1].cursor[1]})
    deleted = {r.id: r for r in records if r.is_deleted}
    assert set(deleted) == set(sim["invalidated"])
    for rec in deleted.values():
        assert rec.record["life_status"] == "invalid"
        assert rec.deleted_at == ms_to_datetime(sim["at"]) == rec.modified_at
    assert sim["deleted"][0] not in {r.id for r in records}  # a permanent delete just vanishes


def test_is_deleted_flag_also_means_deleted(make_connector, company: Company, clock: FakeClock):
    with FxiaokeSandbox(company, clock=clock) as sb:
        target = sb.records("accounts")[0]["_id"]
        sb._state.data.objects["AccountObj"][target]["is_deleted"] = True
        records, _ = collect(make_connector(sb), "accounts", full=True)
        assert [r.id for r in records if r.is_deleted] == [target]


# --- retries and errors --------------------------------------------------------------------------------


def test_http_200_business_error_is_detected(make_connector, sandbox: FxiaokeSandbox):
    conn = make_connector(open_user_id="FSUID_" + "0" * 32)  # not a user of this tenant
    with pytest.raises(CrmError) as err:
        collect(conn, "opportunities", full=True)
    msg = str(err.value)
    assert "fxiaoke opportunities" in msg and QUERY_PATH in msg and "errorCode 20019" in msg
    assert "traceId E-O." in msg
    assert conn.stats("opportunities").retries == 0  # not retryable: fail fast


def test_rate_limit_is_retried(make_connector, sandbox: FxiaokeSandbox, sleeps: list[float]):
    sandbox.faults.rate_limited_calls = 2
    conn = make_connector()
    records, _ = collect(conn, "accounts", full=True)
    assert len(records) == len(sandbox.records("accounts"))
    assert conn.stats("accounts").retries == 2
    assert len(sleeps) == 2 and all(s >= 2.5 for s in sleeps)  # rate-limit backoff starts at ~5 s


def test_real_rate_limit_window_is_waited_out(make_connector, sandbox: FxiaokeSandbox, sleeps: list[float]):
    sandbox.faults.rate_limit_per_window = 2  # two data/query calls per 20 s
    conn = make_connector(max_retries=5)
    records, _ = collect(conn, "opportunities", full=True)
    assert len({r.id for r in records}) == len(sandbox.records("opportunities"))
    assert conn.stats("opportunities").retries >= 1 and sum(sleeps) >= 20 * 0.5


def test_gateway_html_502_is_retried_then_succeeds(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.gateway_error_calls = 2
    conn = make_connector()
    records, _ = collect(conn, "departments")
    assert len(records) == len(sandbox.departments())
    assert conn.stats("departments").retries == 2


@pytest.mark.parametrize("code", [50009, -1, -2])
def test_service_error_codes_are_retried(make_connector, sandbox: FxiaokeSandbox, code: int):
    collect(make_connector(), "departments")  # token first, so the fault hits data calls
    sandbox.faults.service_error_calls = 2
    sandbox.faults.service_error_code = code
    conn = make_connector()
    records, _ = collect(conn, "employees")
    assert len(records) == len(sandbox.employees()) and conn.stats("employees").retries == 2


def test_timeout_is_retried(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.slow_calls = 1
    sandbox.faults.slow_seconds = 0.4
    conn = make_connector(timeout=0.1)
    records, _ = collect(conn, "departments")
    assert records and conn.stats("departments").retries == 1


def test_persistent_error_gives_clear_crm_error_without_secrets(
    make_connector, sandbox: FxiaokeSandbox, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    conn = make_connector(max_retries=2)
    collect(conn, "departments")
    token = sandbox._state.tokens[-1].value
    sandbox.faults.service_error_calls = 10
    with pytest.raises(CrmError) as err:
        collect(conn, "opportunities", full=True)
    msg = str(err.value)
    assert msg.startswith("fxiaoke opportunities: POST /cgi/crm/v2/data/query failed after 3 attempts")
    assert "errorCode 50009 服务超时" in msg and "traceId" in msg
    assert conn.stats("opportunities").retries == 2
    assert "retrying" in caplog.text
    for secret in (*SECRETS, token, sandbox.APP_ID):
        assert secret not in msg and secret not in caplog.text and secret not in repr(err.value)


def test_wrong_secret_fails_fast_without_echoing_it(make_connector, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    conn = make_connector(app_secret="wrong-secret-value")
    with pytest.raises(CrmError, match="corpAccessToken/get/V2 failed: errorCode 20006") as err:
        collect(conn, "departments")
    assert "wrong-secret-value" not in str(err.value) and "wrong-secret-value" not in caplog.text


def test_gateway_errors_forever_end_in_crm_error(make_connector, sandbox: FxiaokeSandbox):
    sandbox.faults.gateway_error_calls = 100
    with pytest.raises(CrmError, match=r"failed after 4 attempts: HTTP 502 \(text/html\)"):
        collect(make_connector(), "departments")


def test_third_trace_id_is_fresh_on_every_call(make_connector, sandbox: FxiaokeSandbox):
    session = RecordingSession()
    sandbox.faults.gateway_error_calls = 1
    sandbox.faults.service_error_calls = 1  # retries must not reuse an id either
    sandbox.faults.reject_reused_trace_id = True
    conn = make_connector(session=session)
    collect(conn, "opportunities", full=True)
    collect(conn, "employees")
    ids = [sent.params["thirdTraceId"] for sent in session.sent]
    assert len(ids) == len(set(ids)) == len(sandbox.trace_ids()) >= 6
    assert "" not in sandbox.trace_ids()


# --- settings and value helpers ----------------------------------------------------------------------


def test_from_settings(sandbox: FxiaokeSandbox, clock: FakeClock):
    settings = Settings(
        fxiaoke_base_url=sandbox.base_url,
        fxiaoke_app_id=sandbox.APP_ID,
        fxiaoke_app_secret=sandbox.APP_SECRET,
        fxiaoke_permanent_code=sandbox.PERMANENT_CODE,
        fxiaoke_open_user_id=sandbox.ADMIN_OPEN_USER_ID,
        http_timeout_seconds=5,
    )
    conn = FxiaokeConnector.from_settings(settings, clock=clock)
    try:
        assert len(collect(conn, "departments")[0]) == len(sandbox.departments())
    finally:
        conn.close()
    with pytest.raises(CrmError, match="SALESOPS_FXIAOKE_APP_SECRET"):
        FxiaokeConnector.from_settings(Settings(_env_file=None, fxiaoke_app_id="x"))


def test_dates_convert_in_shanghai(make_connector, sandbox: FxiaokeSandbox, company: Company):
    assert fxiaoke_date(1585929600000) == date(2020, 4, 4)
    assert fxiaoke_date("1585929600000") == date(2020, 4, 4)
    assert ms_to_datetime(1585929600000) == datetime(2020, 4, 3, 16, tzinfo=UTC)
    assert fxiaoke_date(None) is None
    records, _ = collect(make_connector(), "opportunities", full=True)
    deals = {object_id("OpportunityObj", d.key, d.created_at): d for d in company.for_crm("fxiaoke").deals}
    assert set(deals) == {r.id for r in records}
    for rec in records:
        assert fxiaoke_date(rec.record["close_date"]) == deals[rec.id].closing_date


def test_string_amounts_parse_exactly(make_connector, company: Company):
    assert fxiaoke_decimal("100000.00") == Decimal("100000.00")
    assert fxiaoke_decimal("0.1") + fxiaoke_decimal("0.2") == Decimal("0.3")
    assert fxiaoke_decimal("30") == 30 and fxiaoke_decimal("") is None and fxiaoke_decimal(None) is None
    assert fxiaoke_decimal(0.1) == Decimal("0.1")  # a float is read by its repr, not its binary value
    with pytest.raises(ValueError):
        fxiaoke_decimal("abc")
    records, _ = collect(make_connector(), "opportunities", full=True)
    assert all(isinstance(r.record["amount"], str) for r in records)
    total = sum((fxiaoke_decimal(r.record["amount"]) for r in records), Decimal(0))
    assert total == sum((d.amount for d in company.for_crm("fxiaoke").deals), Decimal(0))
