"""Fxiaoke ingest within its API limit: paced per endpoint, objects read at once, one writer.

The sandbox enforces the documented limit (crm_apis §2.7: 60 calls / 20 s per endpoint) on the
fake clock the connector sleeps on, so nothing really waits; a small page size makes the ingest
need far more than 60 data/query calls."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from fxiaoke_support import AS_OF

from flows.crm.landing import ingest_source
from flows.crm.pacing import Pacer
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.warehouse.database import Warehouse

PAGE = 5


@pytest.fixture
def company() -> Company:
    return generate_company(seed=11, reps=8, deals=400, as_of=AS_OF)


def _admin_stats(sandbox) -> dict:
    return requests.get(f"{sandbox.base_url}/__admin/stats", timeout=5).json()


def _landed(warehouse: Warehouse, obj: str) -> set[str]:
    with warehouse.connect() as conn:
        return {r[0] for r in conn.execute(f"select id from raw.fxiaoke_{obj}").fetchall()}


def test_paced_concurrent_ingest_is_never_throttled_and_lands_everything(
    sandbox, make_connector, tmp_path: Path
) -> None:
    assert sandbox.faults.rate_limit_per_window == 60 and sandbox.faults.rate_limit_window_seconds == 20
    # the first calls take 50 ms of real time: readers running at once overlap on the server
    sandbox.faults.slow_calls, sandbox.faults.slow_seconds = 12, 0.05
    connector = make_connector(page_size=PAGE, pace_calls=60, pace_window=20.0, read_workers=4)
    warehouse = Warehouse(tmp_path / "w.duckdb")

    runs = ingest_source(connector, warehouse, run_id="r1")

    stats = _admin_stats(sandbox)
    assert stats["throttled"] == 0, "pacing keeps every endpoint under its limit"
    assert stats["max_in_flight"] > 1, "independent objects are read at once"
    assert stats["requests"]["/cgi/crm/v2/data/query"] > 60, "the test needs more calls than one window"
    for obj in ("opportunities", "accounts", "contacts", "payments"):
        assert _landed(warehouse, obj) == {r["_id"] for r in sandbox.records(obj)}, obj
    assert {r.object for r in runs} == set(connector.objects) and all(r.status == "succeeded" for r in runs)
    assert [r.object for r in runs] == list(connector.objects), "runs reported in the connector's order"
    assert sum(r.retries for r in runs) == 0
    opportunities = next(r for r in runs if r.object == "opportunities")
    # hand count: n rows in pages of 5 ending on a short page = n // 5 + 1 calls
    # (plus the token fetch when this object's reader was the one that fetched it)
    tokens = connector.stats("opportunities").extra.get("token_calls", 0)
    assert opportunities.min_api_calls == len(sandbox.records("opportunities")) // PAGE + 1 + tokens
    # keyset restarts inside instants many rows share cost more than the minimum, never less
    assert opportunities.api_calls >= opportunities.min_api_calls
    assert all(r.read_seconds > 0 and r.land_seconds > 0 for r in runs if r.stats.received)


def test_without_pacing_the_same_ingest_is_throttled(sandbox, make_connector, tmp_path: Path) -> None:
    """The control: the limit is really on, and an unpaced reader runs into it."""
    connector = make_connector(page_size=PAGE, read_workers=4)
    runs = ingest_source(connector, Warehouse(tmp_path / "w.duckdb"), run_id="r1")
    assert _admin_stats(sandbox)["throttled"] > 0
    assert sum(r.retries for r in runs) > 0


def test_pacer_keeps_every_window_one_call_under_the_limit() -> None:
    """Hand schedule for 60 calls / 20 s with one call of headroom: 59 calls go at once; the 60th
    waits until the first has aged out of the window (t = 20 s), the 61st until the second (also
    sent at t = 0, so t = 20 s too); another endpoint has its own log and waits for nothing."""
    now = [0.0]
    pacer = Pacer(60, 20.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    waits = [pacer.acquire("/cgi/crm/v2/data/query") for _ in range(59)]
    assert waits == [0.0] * 59 and now[0] == 0.0
    assert pacer.acquire("/cgi/crm/v2/data/query") == 20.0 and now[0] == 20.0
    assert pacer.acquire("/cgi/crm/v2/data/query") == 0.0  # the 2nd call (t = 0) aged out at t = 20
    assert pacer.acquire("/cgi/crm/crmLog/query") == 0.0
    now[0] = 20.5  # 59 calls of t = 0 have aged out; the two of t = 20 have not: 2 + 57 more go at once
    assert [pacer.acquire("/cgi/crm/v2/data/query") for _ in range(57)] == [0.0] * 57
    assert pacer.acquire("/cgi/crm/v2/data/query") == pytest.approx(19.5)  # until the t = 20 call ages out
