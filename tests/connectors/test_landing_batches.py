"""Pages landed in batches (flows/crm/page_batches.py): the warehouse ends exactly as page by page,
with fewer transactions, and a failure keeps what was read before it.

The scripted connector below is the ingest step's contract (``flows.crm.base.CrmConnector``) with
pages chosen to hit each rule: an id repeated across pages (a delete after an update), two cursor
names in one object, a page that cannot land, a read that fails. The sandbox test lands a generated
Fxiaoke company (four objects read at once, one writer) both ways and compares every raw table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from zoho_support import FakeClock, make_connector

from flows.crm.base import CallStats, Page
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.crm.landing import IngestError, ingest_source
from flows.crm.page_batches import BatchLimits, PageBatch, merged, repeats
from flows.sandbox.company.generator import generate_company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.sandbox.zoho.server import ZohoSandbox
from flows.warehouse.database import RawRecord, Warehouse

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EVERY_PAGE_ALONE = BatchLimits(records=1, seconds=60)
LARGE = BatchLimits(records=100_000, seconds=60)


def _rec(rid: str, minute: int, amount: int, *, deleted: bool = False) -> RawRecord:
    at = T0 + timedelta(minutes=minute)
    return RawRecord(
        id=rid,
        record={"id": rid, "amount": amount},
        modified_at=at,
        deleted_at=at if deleted else None,
    )


@dataclass
class Scripted:
    """A connector that serves fixed pages per object and fails where told."""

    script: dict[str, list[Page | Exception]]
    source: str = "zoho"
    read_workers: int = 1
    objects: tuple[str, ...] = field(default=())
    _stats: dict[str, CallStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.objects = tuple(self.script)

    def pages(self, obj: str, cursors: Mapping[str, str], *, full_refresh: bool = False) -> Iterator[Page]:
        for item in self.script[obj]:
            if isinstance(item, Exception):
                raise item
            self.stats(obj).api_calls += 1
            yield item

    def stats(self, obj: str) -> CallStats:
        return self._stats.setdefault(obj, CallStats())

    def cursor_names(self, obj: str) -> tuple[str, ...]:
        return (obj, f"{obj}_deleted")

    def cursor_value(self, since: datetime) -> str:
        return since.isoformat()

    def close(self) -> None:
        pass


def _deals_pages() -> list[Page]:
    return [
        Page([_rec("a", 1, 10), _rec("b", 2, 20)], cursor=("deals", "c1")),
        Page([_rec("c", 3, 30)], cursor=("deals", "c2")),
        # "c" again in the same version (a keyset restart re-reads a second): joins the batch
        Page([_rec("c", 3, 30), _rec("f", 3, 60)], cursor=("deals", "c2b")),
        # "a" again: an update, then (next page) its deletion - page by page, the deletion keeps
        # the updated body; one upsert of both would keep only one version
        Page([_rec("a", 4, 11), _rec("d", 5, 40)], cursor=("deals", "c3")),
        Page([_rec("a", 6, 11, deleted=True)], cursor=("deals_deleted", "x1")),
        Page([], cursor=("deals", "c4")),
        Page([_rec("e", 7, 50)], cursor=None),
    ]


def _state(warehouse: Warehouse, tables: list[str]) -> dict[str, list[tuple]]:
    with warehouse.connect() as conn:
        out = {
            t: conn.execute(
                f"select id, record::varchar, modified_at, is_deleted, deleted_at, record_hash "
                f"from raw.{t} order by id"
            ).fetchall()
            for t in tables
        }
        out["watermarks"] = conn.execute(
            "select source, object, watermark from ops.watermarks order by all"
        ).fetchall()
    return out


def _transactions(warehouse: Warehouse, table: str) -> int:
    with warehouse.connect() as conn:  # one loaded_at per landing transaction
        return conn.execute(f"select count(distinct loaded_at) from raw.{table}").fetchone()[0]


def test_batch_rules() -> None:
    pages = _deals_pages()
    first, second, same_again, changed = pages[0], pages[1], pages[2], pages[3]
    assert PageBatch(BatchLimits(records=3)).accepts(Page([_rec(str(i), i, i) for i in range(5)])), (
        "an empty batch takes any page, however large"
    )
    roomy = PageBatch(LARGE)
    roomy.add(first)
    assert not roomy.accepts(changed), "another version of an id of the batch starts a new batch"
    roomy.add(second)
    assert roomy.accepts(same_again), "the same version of an id again joins"
    assert repeats([second, same_again]) == 1, "and counts as unchanged"

    batch = PageBatch(BatchLimits(records=3, seconds=60))
    batch.add(first)
    assert batch.accepts(second) and not batch.due()
    batch.add(second)
    assert batch.due(), "3 records reach the limit"
    records, cursors = merged(batch.take())
    assert [r.id for r in records] == ["a", "b", "c"] and cursors == [("deals", "c2")]
    assert not batch and batch.records == 0
    _, cursors = merged(pages[3:6])
    assert cursors == [("deals", "c4"), ("deals_deleted", "x1")], "each name's last value"


@pytest.mark.parametrize("workers", [1, 2])
def test_batched_landing_leaves_the_warehouse_as_page_by_page(tmp_path: Path, workers: int) -> None:
    script = {
        "deals": _deals_pages(),
        "accounts": [Page([_rec(f"acc{i}", i, i)], cursor=("accounts", f"{i}")) for i in range(7)],
    }
    states, runs = [], []
    for limits in (EVERY_PAGE_ALONE, LARGE):
        warehouse = Warehouse(tmp_path / f"{limits.records}.duckdb")
        runs.append(
            ingest_source(Scripted(script, read_workers=workers), warehouse, run_id="r", batch=limits)
        )
        states.append(_state(warehouse, ["zoho_deals", "zoho_accounts"]))
        if limits is LARGE:
            # deals: the repeated "a" splits them into three batches; accounts: one batch
            assert _transactions(warehouse, "zoho_accounts") == 1
    assert states[0] == states[1]
    deals = {r[0]: r for r in states[1]["zoho_deals"]}
    assert deals["a"][3] is True and json.loads(deals["a"][1])["amount"] == 11, (
        "the delete kept the updated body"
    )
    assert ("zoho", "deals", "c4") in states[1]["watermarks"]
    assert ("zoho", "deals_deleted", "x1") in states[1]["watermarks"]
    for alone, batched in zip(*runs, strict=True):
        assert alone.stats == batched.stats


@pytest.mark.parametrize("workers", [1, 2])
def test_a_page_that_cannot_land_keeps_the_pages_before_it(tmp_path: Path, workers: int) -> None:
    bad = RawRecord(id="", record={"Deal_Name": "no id"}, modified_at=T0)
    script = {
        "deals": [*_deals_pages()[:3], Page([bad], cursor=("deals", "c3"))],
        "accounts": [Page([_rec("acc", 1, 1)], cursor=("accounts", "1"))],
    }
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(IngestError, match="record without id"):
        ingest_source(Scripted(script, read_workers=workers), warehouse, run_id="r", batch=LARGE)
    state = _state(warehouse, ["zoho_deals"])
    assert [r[0] for r in state["zoho_deals"]] == ["a", "b", "c", "f"], "the good pages landed"
    assert ("zoho", "deals", "c2b") in state["watermarks"], "the cursor stops at the last good page"
    assert ("zoho", "deals", "c3") not in state["watermarks"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_read_that_fails_lands_the_pages_read_before_it(tmp_path: Path, workers: int) -> None:
    script = {
        "deals": [*_deals_pages()[:3], RuntimeError("HTTP 500 on page 4")],
        "accounts": [Page([_rec("acc", 1, 1)], cursor=("accounts", "1"))],
    }
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(IngestError, match="HTTP 500 on page 4"):
        ingest_source(Scripted(script, read_workers=workers), warehouse, run_id="r", batch=LARGE)
    state = _state(warehouse, ["zoho_deals"])
    assert [r[0] for r in state["zoho_deals"]] == ["a", "b", "c", "f"]
    assert ("zoho", "deals", "c2b") in state["watermarks"]


def test_a_sandbox_company_lands_the_same_in_batches(tmp_path: Path) -> None:
    company = generate_company(seed=5, reps=6, deals=400, as_of=date(2026, 11, 28))
    objects = ["accounts", "opportunities", "opportunity_stage_changes", "invoices"]
    states = []
    with FxiaokeSandbox(company) as sandbox:
        for limits in (EVERY_PAGE_ALONE, LARGE):
            connector = FxiaokeConnector(
                base_url=sandbox.base_url,
                app_id=FxiaokeSandbox.APP_ID,
                app_secret=FxiaokeSandbox.APP_SECRET,
                permanent_code=FxiaokeSandbox.PERMANENT_CODE,
                open_user_id=FxiaokeSandbox.ADMIN_OPEN_USER_ID,
                sleep=lambda _s: None,
                read_workers=4,
            )
            warehouse = Warehouse(tmp_path / f"{limits.records}.duckdb")
            try:
                ingest_source(connector, warehouse, run_id="r", objects=objects, batch=limits)
            finally:
                connector.close()
            states.append(_state(warehouse, [f"fxiaoke_{o}" for o in objects]))
            transactions = _transactions(warehouse, "fxiaoke_opportunity_stage_changes")
            if limits is EVERY_PAGE_ALONE:
                pages = transactions
            else:
                assert transactions < pages, "batches are fewer transactions than pages"
    assert all(states[0][t] for t in states[0]), "every object has rows"
    assert states[0] == states[1]


def test_a_zoho_company_lands_the_same_in_batches(tmp_path: Path) -> None:
    """Zoho's keyset listing re-reads the previous page's last second: those repeats join a batch."""
    clock = FakeClock()
    company = generate_company(seed=7, reps=6, deals=900, as_of=clock().date() - timedelta(days=1))
    objects = ["leads", "deals", "deal_stage_history", "tasks"]
    states, runs = [], []
    with ZohoSandbox(company, clock=clock) as sandbox:
        for limits in (EVERY_PAGE_ALONE, LARGE):
            connector = make_connector(sandbox, clock)
            warehouse = Warehouse(tmp_path / f"{limits.records}.duckdb")
            try:
                runs.append(ingest_source(connector, warehouse, run_id="r", objects=objects, batch=limits))
            finally:
                connector.close()
            state = _state(warehouse, [f"zoho_{o}" for o in objects])
            # the stage history's cursor is a landing key, "<loaded_at>|<deal id>" of the last deal
            # done: the same deal whichever way the deals landed, a different instant
            (key,) = [w for s, o, w in state["watermarks"] if o == "deal_stage_history"]
            with warehouse.connect() as conn:
                last = conn.execute(
                    "select loaded_at, id from raw.zoho_deals order by loaded_at desc, id desc limit 1"
                ).fetchone()
            assert key == f"{last[0].astimezone(UTC).isoformat()}|{last[1]}"
            state["watermarks"] = [w for w in state["watermarks"] if w[1] != "deal_stage_history"]
            states.append(state)
            if limits is LARGE:
                assert _transactions(warehouse, "zoho_leads") < runs[0][0].api_calls / 2
    assert all(states[0][t] for t in states[0]), "every object has rows"
    assert states[0] == states[1]
    assert [r.stats for r in runs[0]] == [r.stats for r in runs[1]]
    assert any(r.stats.unchanged for r in runs[0]), "some page repeated a record of the page before"
