"""The ingest step against the sandbox: pages committed with their cursors, full-refresh reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from flows.crm.base import CallStats
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.crm.fxiaoke.values import datetime_to_ms
from flows.crm.landing import IngestError, ingest_source
from flows.crm.zoho.connector import ZohoConnector
from flows.sandbox.company.generator import generate_company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.warehouse.database import Warehouse


@pytest.fixture
def sandbox():
    company = generate_company(seed=11, reps=8, deals=150, as_of=date(2026, 11, 28))
    with FxiaokeSandbox(company) as server:
        yield server


def _connector(sandbox: FxiaokeSandbox) -> FxiaokeConnector:
    return FxiaokeConnector(
        base_url=sandbox.base_url,
        app_id=FxiaokeSandbox.APP_ID,
        app_secret=FxiaokeSandbox.APP_SECRET,
        permanent_code=FxiaokeSandbox.PERMANENT_CODE,
        open_user_id=FxiaokeSandbox.ADMIN_OPEN_USER_ID,
        sleep=lambda _s: None,
    )


def _live(warehouse: Warehouse) -> set[str]:
    with warehouse.connect() as conn:
        return {
            r[0]
            for r in conn.execute("select id from raw.fxiaoke_opportunities where not is_deleted").fetchall()
        }


def test_full_refresh_marks_records_deleted_for_good_in_the_crm(sandbox, tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    ingest_source(_connector(sandbox), warehouse, run_id="r1", objects=["opportunities"])
    before = _live(warehouse)
    gone = set(sandbox.simulate("opportunities", delete=3)["deleted"])
    assert gone <= before and len(gone) == 3

    incremental = ingest_source(_connector(sandbox), warehouse, run_id="r2", objects=["opportunities"])
    assert incremental[0].stats.deleted == 0, "a vanished row leaves no trace an incremental read can see"
    full = ingest_source(
        _connector(sandbox), warehouse, run_id="r3", objects=["opportunities"], full_refresh=True
    )
    assert full[0].stats.deleted == 3
    assert _live(warehouse) == before - gone
    again = ingest_source(
        _connector(sandbox), warehouse, run_id="r4", objects=["opportunities"], full_refresh=True
    )
    assert again[0].stats.deleted == 0 and again[0].stats.inserted == 0


def test_unknown_object_is_refused_before_any_call(sandbox, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fxiaoke object"):
        ingest_source(_connector(sandbox), Warehouse(tmp_path / "w.duckdb"), run_id="r", objects=["nope"])


def test_a_failed_object_is_recorded_and_named(sandbox, tmp_path: Path) -> None:
    sandbox.faults.service_error_calls = 10_000
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with pytest.raises(IngestError, match=r"ingest of fxiaoke\.accounts failed"):
        ingest_source(_connector(sandbox), warehouse, run_id="r1", objects=["accounts"])
    with warehouse.connect() as conn:
        rows = conn.execute("select object, status, error from ops.ingest_runs").fetchall()
    assert rows[0][:2] == ("accounts", "failed") and rows[0][2]


class _CursorRecorder:
    """A connector with no records that remembers the cursors each object was read from."""

    source = "fake"
    objects = ("a", "b")

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, str]] = {}

    def pages(self, obj, cursors, *, full_refresh=False):
        self.seen[obj] = dict(cursors)
        return iter(())

    def stats(self, obj):
        return CallStats()

    def cursor_names(self, obj):
        return (f"{obj}.modified",)

    def cursor_value(self, since):
        return f"at {since:%Y-%m-%d}"

    def close(self) -> None:
        pass


def test_since_becomes_the_connectors_own_cursors(tmp_path: Path) -> None:
    """--since is written in each connector's declared cursor names and format; ingest knows neither."""
    fake = _CursorRecorder()
    warehouse = Warehouse(tmp_path / "w.duckdb")
    ingest_source(fake, warehouse, run_id="r1", objects=["b"], since=datetime(2026, 11, 1, tzinfo=UTC))
    assert fake.seen == {"b": {"b.modified": "at 2026-11-01"}}
    ingest_source(fake, warehouse, run_id="r2")
    assert fake.seen == {"a": {}, "b": {}}, "no --since: the stored cursors (none here)"


def test_each_connector_declares_its_cursor_contract(sandbox) -> None:
    since = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    fx = _connector(sandbox)
    assert fx.cursor_value(since) == str(datetime_to_ms(since)) == "1793521800000"
    assert fx.cursor_names("employees") == () and fx.cursor_names("opportunities") == ("opportunities",)
    zoho = ZohoConnector(
        accounts_url="http://127.0.0.1:9",
        client_id="x",
        client_secret=SecretStr("y"),
        refresh_token=SecretStr("z"),
    )
    assert zoho.cursor_value(since) == "2026-11-01T08:30:00+00:00"
    assert zoho.cursor_names("deals") == ("deals", "deals.deleted")
