"""Zoho first loads through Bulk Read: the same raw rows as the REST listing, far fewer calls;
incremental runs stay on the REST listing; failed and slow jobs fail naming the job and module."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from zoho_support import FakeClock, make_connector, zoho_company

from flows.crm.landing import IngestError, ingest_source
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import Warehouse

N_DEALS = 450
OBJECTS = ["users", "products", "accounts", "contacts", "deals"]
BULK = ("accounts", "contacts", "deals")


@pytest.fixture
def sandbox():
    with ZohoSandbox(zoho_company(N_DEALS)) as sb:
        yield sb


def _ingest(sb: ZohoSandbox, path: Path, run_id: str, **overrides) -> dict:
    connector = make_connector(sb, FakeClock(), **overrides)
    try:
        runs = ingest_source(connector, Warehouse(path), run_id=run_id, objects=OBJECTS)
        return {r.object: r for r in runs}
    finally:
        connector.close()


def _raw(path: Path, obj: str) -> dict[str, dict]:
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(f"select id, record from raw.zoho_{obj}").fetchall()
    return {rid: json.loads(record) for rid, record in rows}


def _calls(sb: ZohoSandbox, prefix: str) -> int:
    return sum(n for p, n in sb.request_counts().items() if p.startswith(prefix))


def test_bulk_first_load_lands_the_rows_the_rest_listing_lands(sandbox: ZohoSandbox, tmp_path: Path):
    rest_runs = _ingest(sandbox, tmp_path / "rest.duckdb", "rest")
    assert _calls(sandbox, "/crm/bulk/") == 0, "without a threshold the REST listing is used"
    rest_deal_listings = sandbox.request_counts().get("/crm/v8/Deals", 0)

    bulk_runs = _ingest(sandbox, tmp_path / "bulk.duckdb", "bulk", bulk_min_records=100)
    # one job per module (each well under 200,000 rows): create, two polls, download
    assert _calls(sandbox, "/crm/bulk/v8/read") == 3 * 4
    assert sandbox.request_counts().get("/crm/v8/Deals", 0) == rest_deal_listings, "no REST listing of Deals"

    for obj in BULK:
        rest, bulk = _raw(tmp_path / "rest.duckdb", obj), _raw(tmp_path / "bulk.duckdb", obj)
        assert rest.keys() == bulk.keys() and len(rest) > 100
        for rid, record in rest.items():
            # the REST listing adds Zoho's `$` metadata keys (the CSV has no column for them) and
            # cuts rich text to 500 characters (the export has it whole): the only differences
            plain = {k: v for k, v in record.items() if not k.startswith("$")}
            exported = dict(bulk[rid])
            if isinstance(exported.get("Description"), str) and len(exported["Description"]) > 500:
                assert plain["Description"] == exported["Description"][:500]
                exported["Description"] = plain["Description"]
            assert exported == plain, (obj, rid)
            assert json.dumps(exported, sort_keys=True) == json.dumps(plain, sort_keys=True), "same types"
        assert bulk_runs[obj].stats.inserted == len(rest)
    deals = bulk_runs["deals"]
    # hand count: the field list, the record count, create + completing poll + download, one
    # single-record read naming the one pipeline, the recycle bin (0 rows -> 1 call)
    assert deals.min_api_calls == 1 + 1 + 3 + 1 + 1
    assert deals.api_calls == deals.min_api_calls + 1, "one poll found the job still in progress"
    assert rest_runs["deals"].api_calls == 1 + (N_DEALS // 200 + 1) + 1  # fields, listing, recycle bin


def test_incremental_runs_use_the_rest_listing(sandbox: ZohoSandbox, tmp_path: Path):
    path = tmp_path / "w.duckdb"
    _ingest(sandbox, path, "night-1", bulk_min_records=100)
    jobs = _calls(sandbox, "/crm/bulk/v8/read")
    edited = sandbox.simulate("deals", update=2)["updated"]
    second = _ingest(sandbox, path, "night-2", bulk_min_records=100)
    assert _calls(sandbox, "/crm/bulk/v8/read") == jobs, "no new Bulk Read job with a cursor stored"
    landed = _raw(path, "deals")
    for rid in edited:
        assert landed[rid]["Amount"] == sandbox._rows["Deals"][rid].record["Amount"]
        assert "$approval_state" in landed[rid], "a record read through REST has the REST shape again"
    # the records the REST overlap window re-read gain the `$` keys the export lacked: an update each
    assert second["deals"].stats.updated == second["deals"].stats.received > 2


def test_a_failed_job_fails_the_load_naming_job_and_module(sandbox: ZohoSandbox, tmp_path: Path):
    sandbox.faults.bulk_failures = 1
    with pytest.raises(IngestError, match=r"Bulk Read job \d+ \(Accounts\) ended in FAILURE"):
        _ingest(sandbox, tmp_path / "w.duckdb", "r1", bulk_min_records=100)


def test_a_job_slower_than_the_wait_budget_fails_naming_it(sandbox: ZohoSandbox, tmp_path: Path):
    with pytest.raises(IngestError, match=r"Bulk Read job \d+ \(Accounts\) still IN PROGRESS after 0s"):
        _ingest(sandbox, tmp_path / "w.duckdb", "r1", bulk_min_records=100, bulk_max_wait=0.0)


def test_results_over_several_pages_follow_the_page_token(
    sandbox: ZohoSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Zoho pages a result at 200,000 rows; the sandbox's page shrunk to 100 rows shows the
    connector creating the next job from ``next_page_token`` until ``more_records`` is false."""
    import flows.sandbox.zoho.bulk as sandbox_bulk

    monkeypatch.setattr(sandbox_bulk, "BULK_PAGE", 100)
    runs = _ingest(sandbox, tmp_path / "w.duckdb", "r1", bulk_min_records=100)
    landed = _raw(tmp_path / "w.duckdb", "deals")
    assert landed.keys() == set(sandbox.live_ids("Deals"))
    assert runs["deals"].stats.received == N_DEALS
    # hand count: ceil(450 / 100) = 5 Deals jobs, and as many for accounts and contacts by their sizes
    accounts, contacts = len(sandbox.live_ids("Accounts")), len(sandbox.live_ids("Contacts"))
    jobs = sum(-(-n // 100) for n in (N_DEALS, accounts, contacts))
    assert _calls(sandbox, "/crm/bulk/v8/read") == 4 * jobs
