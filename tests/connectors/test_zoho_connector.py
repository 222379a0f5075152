"""The Zoho connector against a real ZohoSandbox: paging, incremental cursors, deletes, auth, retries.

Sleeps are injected (they advance the sandbox's fake clock instead of waiting), so the whole
file runs in seconds while still exercising Retry-After, backoff and throttled-refresh waits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from pydantic import SecretStr
from zoho_support import (
    T0,
    FakeClock,
    latest,
    make_connector,
    record_calls,
    run,
    zoho_company,
)

from flows.config.settings import Settings
from flows.crm.base import CrmError
from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.zoho.server import ZohoSandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[ZohoSandbox]:
    with ZohoSandbox(zoho_company(600, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        yield sb


@pytest.fixture
def connector(sandbox: ZohoSandbox, clock: FakeClock) -> Iterator[ZohoConnector]:
    conn = make_connector(sandbox, clock)
    yield conn
    conn.close()


def test_full_load_of_every_object(sandbox: ZohoSandbox, connector: ZohoConnector):
    for obj, module in [
        ("accounts", "Accounts"),
        ("contacts", "Contacts"),
        ("deals", "Deals"),
        ("products", "Products"),
    ]:
        pages, cursors = run(connector, obj)
        got = latest(pages)
        assert sorted(got) == sandbox.live_ids(module)
        assert all(isinstance(r.id, str) and len(r.id) == 19 for r in got.values())
        assert all(r.modified_at and r.modified_at.tzinfo == UTC for r in got.values())
        newest = max(r.modified_at for r in got.values())
        assert cursors == {obj: newest.isoformat()}
    users, cursors = run(connector, "users")
    assert len(latest(users)) == len(sandbox.company.users) and cursors == {}
    assert any(r.record["status"] == "inactive" for p in users for r in p.records)
    # Everything but the token went to the api_domain; the accounts host saw only token calls.
    counts = sandbox.request_counts()
    assert counts["/oauth/v2/token"] == 1 and connector.stats("accounts").token_refreshes == 1
    assert "ZohoConnector(accounts_url=" in repr(connector) and sandbox.api_url in repr(connector)


@pytest.mark.parametrize("n", [0, 200, 2000, 2001, 2200])
def test_page_boundaries_with_rows_in_the_same_second(clock: FakeClock, n: int):
    """Worst case for keyset paging: every row in one second, so paging must go page 1..10 then token."""
    with ZohoSandbox(zoho_company(n, modified=T0 - timedelta(hours=1)), clock=clock) as sb:
        conn = make_connector(sb, clock)
        pages, cursors = run(conn, "deals")
        got = latest(pages)
        assert sorted(got) == sb.live_ids("Deals") and len(got) == n
        assert record_calls(sb) <= max(1, math.ceil(n / 200) + 1)
        assert sb.page_token_requests == (math.ceil(n / 200) - 10 if n > 2000 else 0)
        assert cursors.get("deals") == ((T0 - timedelta(hours=1)).isoformat() if n else None)


def test_keyset_paging_with_distinct_times_never_needs_page_tokens(clock: FakeClock):
    with ZohoSandbox(zoho_company(2200, modified=T0 - timedelta(days=1), spaced=True), clock=clock) as sb:
        pages, _ = run(make_connector(sb, clock), "deals")
        assert len(latest(pages)) == 2200
        assert sb.page_token_requests == 0 and record_calls(sb) <= math.ceil(2200 / 200) + 2


def test_field_list_from_metadata_capped_at_50(sandbox: ZohoSandbox, connector: ZohoConnector, caplog):
    sandbox.faults.extra_custom_fields = 60  # the module now has > 50 fields: the server rejects > 50
    pages, _ = run(connector, "deals")
    rec = next(r for p in pages for r in p.records)
    assert {"Deal_Name", "Amount", "Modified_Time", "Owner", "Product_Name", "Custom_Field_1__c"} <= set(
        rec.record
    )
    assert "Custom_Field_60__c" not in rec.record and "requesting the first 50" in caplog.text


# --- incremental -------------------------------------------------------------------------------------------
def test_incremental_reads_changes_including_same_second_ones(sandbox, connector, clock):
    _, cursors = run(connector, "deals")
    clock.advance(3600)
    first = sandbox.simulate("deals", update=5, create=2)
    pages, cursors = run(connector, "deals", cursors)
    changed = set(first["updated"] + first["created"])
    assert changed <= set(latest(pages)) and cursors["deals"] == clock.now.isoformat()
    # Same second, committed after the previous run read it: a cursor+1s connector loses these.
    late = sandbox.simulate("deals", update=3)
    pages, cursors = run(connector, "deals", cursors)
    assert set(late["updated"]) <= set(latest(pages)) and len(latest(pages)) < 20


def test_modification_during_paging_loses_nothing(sandbox, connector, clock):
    clock.advance(60)
    sandbox.faults.modify_after_first_page = 3  # three page-1 rows jump to the end mid-run
    pages, _ = run(connector, "deals", full=True)
    got = latest(pages)
    assert sorted(got) == sandbox.live_ids("Deals")
    touched = [r for r in got.values() if r.modified_at == clock.now]
    assert len(touched) == 3  # and their new version is what lands


def test_cursor_from_a_page_is_safe_to_commit(sandbox, connector, clock):
    """Stop after any page, resume from its cursor: the union still has every record."""
    pages = connector.pages("deals", {})
    first = next(pages)
    pages.close()
    rest, _ = run(make_connector(sandbox, clock), "deals", {first.cursor[0]: first.cursor[1]})
    assert sorted(latest([first, *rest])) == sandbox.live_ids("Deals")


def test_deletes_are_landed_with_their_cursor(sandbox, connector, clock):
    _, cursors = run(connector, "deals")
    clock.advance(120)
    gone = sandbox.simulate("deals", update=1, delete=2)["deleted"]
    clock.advance(1)
    purged = sandbox.simulate("deals", delete=1, permanent=True)["deleted"]
    pages, cursors = run(connector, "deals", cursors)
    deleted = {r.id: r for p in pages for r in p.records if r.is_deleted}
    assert set(deleted) == set(gone + purged)
    assert deleted[purged[0]].deleted_at == clock.now and deleted[purged[0]].modified_at is None
    assert cursors["deals.deleted"] == clock.now.isoformat()
    # Re-running re-reads only the overlap window (idempotent for the warehouse upsert).
    pages, _ = run(connector, "deals", cursors)
    assert {r.id for p in pages for r in p.records} <= set(deleted) | set(sandbox.live_ids("Deals"))
    assert len([r for p in pages for r in p.records]) <= 4


def test_nothing_changed_is_304_and_204_without_json(sandbox, connector, clock):
    future = (clock.now + timedelta(days=1)).isoformat()
    pages, cursors = run(connector, "deals", {"deals": future, "deals.deleted": future})
    assert pages == [] and cursors == {"deals": future, "deals.deleted": future}
    assert record_calls(sandbox) == 1 and record_calls(sandbox, "Deals/deleted") == 1


def test_record_without_modified_time_lands_with_null(sandbox, connector, caplog):
    victim = sandbox.live_ids("Deals")[0]
    sandbox.faults.omit_modified_time = {victim}
    pages, _ = run(connector, "deals")
    assert latest(pages)[victim].modified_at is None
    assert "without a usable Modified_Time" in caplog.text


@pytest.mark.parametrize("fault", ["empty_pages_with_more", "missing_info"])
def test_malformed_pages_do_not_loop(sandbox, connector, fault):
    sandbox.faults.update({fault: 1})
    pages, cursors = run(connector, "deals")
    assert record_calls(sandbox) <= 6
    if fault == "missing_info":  # more_records inferred from a full page
        assert len(latest(pages)) == 600
    else:  # stop rather than loop, and do not advance the cursor past rows never read
        assert latest(pages) == {} and "deals" not in cursors


# --- auth ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["INVALID_TOKEN", "AUTHENTICATION_FAILURE"])
def test_token_dies_mid_run_one_refresh_then_replay(sandbox, connector, code):
    _, _ = run(connector, "accounts")  # warm up: token and field list in hand
    baseline = sandbox.request_counts()
    sandbox.faults.update({"token_max_calls": 2, "auth_error_code": code})
    pages, _ = run(connector, "deals")
    assert sorted(latest(pages)) == sandbox.live_ids("Deals")
    counts = sandbox.request_counts()
    refreshes = counts["/oauth/v2/token"] - baseline["/oauth/v2/token"]
    calls = counts["/crm/v8/Deals"] + counts["/crm/v8/settings/fields"] + counts["/crm/v8/Deals/deleted"]
    calls -= baseline["/crm/v8/settings/fields"]
    # every token serves 2 calls; each 401 costs exactly one refresh and one replayed request
    assert refreshes == connector.stats("deals").token_refreshes >= 2
    assert calls == connector.stats("deals").api_calls - refreshes
    assert calls - refreshes == len([p for p in pages]) + 2  # record pages (+1 restart), fields, deleted


def test_persistent_auth_failure_refreshes_only_once(sandbox, connector):
    sandbox.faults.token_max_calls = 0
    with pytest.raises(
        CrmError, match=r"zoho deals: GET /crm/v8/settings/fields failed: HTTP 401 INVALID_TOKEN"
    ):
        run(connector, "deals")
    assert sandbox.request_counts()["/oauth/v2/token"] == 2


def test_refresh_before_expiry(sandbox, clock):
    now = [0.0]
    conn = make_connector(sandbox, clock, monotonic=lambda: now[0])
    run(conn, "users")
    now[0] = 3600 - 30  # inside the refresh margin
    run(conn, "users")
    assert sandbox.request_counts()["/oauth/v2/token"] == 2
    assert sandbox.request_counts().get("/crm/v8/users") == 2  # no 401 round trip


def test_throttled_refresh_is_waited_out(sandbox, connector, clock):
    sandbox.faults.throttle_refreshes = 2
    pages, _ = run(connector, "users")
    assert pages and clock.sleeps == [60.0, 60.0]
    assert sandbox.request_counts()["/oauth/v2/token"] == 3


def test_refresh_window_limit_waited_out_with_real_window(sandbox, clock):
    sandbox.faults.refresh_limit = 1
    conn = make_connector(sandbox, clock)
    run(conn, "users")
    sandbox.revoke_tokens()
    run(conn, "users")  # the refresh is throttled until the 10-minute window passes
    assert sum(clock.sleeps) >= 600


def test_bad_credentials_fail_fast_without_secrets(sandbox, clock):
    conn = make_connector(sandbox, clock, client_secret="definitely-wrong-secret")
    with pytest.raises(CrmError) as err:
        run(conn, "users")
    assert "invalid_client" in str(err.value) and "definitely-wrong-secret" not in str(err.value)
    assert clock.sleeps == []


# --- retries ------------------------------------------------------------------------------------------------
def test_429_with_retry_after_is_honoured(sandbox, connector, clock):
    sandbox.faults.update({"rate_limits": 2, "retry_after": 7, "fault_path": "/Deals"})
    pages, _ = run(connector, "deals")
    assert len(latest(pages)) == 600 and clock.sleeps == [7.0, 7.0]
    assert connector.stats("deals").retries == 2


def test_429_without_retry_after_backs_off_exponentially_with_jitter(sandbox, connector, clock):
    sandbox.faults.update({"rate_limits": 3, "fault_path": "/Deals"})
    run(connector, "deals")
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps):
        step = min(8.0, 2**attempt)
        assert step / 2 <= slept <= step


@pytest.mark.parametrize(("status", "body"), [(502, "html"), (503, "empty"), (500, "json")])
def test_5xx_retried_then_succeeds(sandbox, connector, status, body):
    sandbox.faults.update(
        {"server_errors": 2, "server_error_status": status, "server_error_body": body, "fault_path": "/Deals"}
    )
    pages, _ = run(connector, "deals")
    assert len(latest(pages)) == 600 and connector.stats("deals").retries == 2


def test_connection_reset_mid_body_is_retried(sandbox, connector):
    sandbox.faults.update({"connection_resets": 1, "fault_path": "/Deals"})
    pages, _ = run(connector, "deals")
    assert len(latest(pages)) == 600 and connector.stats("deals").retries == 1


def test_persistent_5xx_gives_a_clear_error(sandbox, connector, clock):
    sandbox.faults.update(
        {
            "server_errors": 100,
            "server_error_status": 502,
            "server_error_body": "html",
            "fault_path": "/Deals",
        }
    )
    with pytest.raises(CrmError) as err:
        run(connector, "deals")
    message = str(err.value)
    assert message.startswith("zoho deals: GET /crm/v8/Deals failed: HTTP 502 (HTML body) (after 4 attempts)")
    assert len(clock.sleeps) == 3


def test_slow_responses_time_out_and_fail_clearly(sandbox, clock):
    conn = make_connector(sandbox, clock, timeout=0.2, max_retries=1)
    run(conn, "accounts")
    sandbox.faults.update({"delay_seconds": 0.5, "fault_path": "/Deals"})
    with pytest.raises(CrmError, match=r"zoho deals: GET /crm/v8/Deals failed: timeout"):
        run(conn, "deals")


def test_no_secret_in_logs_errors_or_reprs(sandbox, clock, caplog):
    caplog.set_level(logging.DEBUG)
    conn = make_connector(sandbox, clock)
    sandbox.faults.update({"server_errors": 1, "rate_limits": 1, "token_max_calls": 3})
    run(conn, "deals")
    sandbox.faults.update({"server_errors": 100, "token_max_calls": None})
    with pytest.raises(CrmError) as err:
        run(conn, "accounts")
    secrets = [sandbox.CLIENT_ID, sandbox.CLIENT_SECRET, sandbox.REFRESH_TOKEN, *sandbox._tokens]
    exposed = "\n".join(
        [caplog.text, str(err.value), repr(err.value), repr(conn), repr(conn._token), repr(conn.__dict__)]
    )
    assert sandbox.tokens_issued >= 2
    for secret in secrets:
        assert secret not in exposed


def test_from_settings(monkeypatch, sandbox):
    settings = Settings(
        zoho_accounts_url=sandbox.accounts_url,
        zoho_client_id=SecretStr(sandbox.CLIENT_ID),
        zoho_client_secret=SecretStr(sandbox.CLIENT_SECRET),
        zoho_refresh_token=SecretStr(sandbox.REFRESH_TOKEN),
        http_max_retries=2,
    )
    conn = ZohoConnector.from_settings(settings)
    assert conn.policy.max_retries == 2 and conn.accounts_url == sandbox.accounts_url
    assert run(conn, "products")[0]
    with pytest.raises(ValueError, match="SALESOPS_ZOHO_REFRESH_TOKEN"):
        ZohoConnector.from_settings(settings.model_copy(update={"zoho_refresh_token": None}))


# --- cost ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "same_second"), [(50, False), (500, False), (1000, True), (2100, True)])
def test_incremental_cost_is_about_ceil_n_over_200(clock, changes, same_second):
    with ZohoSandbox(zoho_company(2500, modified=T0 - timedelta(days=30), spaced=True), clock=clock) as sb:
        conn = make_connector(sb, clock)
        _, cursors = run(conn, "deals")
        clock.advance(86400)
        if same_second:
            sb.simulate("deals", update=changes)
        else:
            for _ in range(changes):
                sb.simulate("deals", update=1)
                clock.advance(1)
        before = record_calls(sb)
        pages, _ = run(conn, "deals", cursors)
        calls = record_calls(sb) - before
        assert len(latest(pages)) >= changes
        bound = math.ceil(changes / 200) + 2
        assert calls <= bound, f"{changes} changes took {calls} record calls (bound {bound})"
        print(f"incremental after {changes} changes (same second: {same_second}): {calls} record calls")
