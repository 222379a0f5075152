"""Raw landing: idempotent, never backwards, deletes marked not dropped, watermark with the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flows.warehouse.database import RawRecord, Warehouse, get_watermark, set_watermark, upsert_raw

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def conn(tmp_path: Path):
    with Warehouse(tmp_path / "w.duckdb").connect() as c:
        yield c


def _rows(conn):
    return conn.execute(
        "select id, record ->> 'v', is_deleted, deleted_at, run_id from raw.zoho_deals order by id"
    ).fetchall()


def _land(conn, records, run_id="r1"):
    return upsert_raw(conn, source="zoho", obj="deals", records=records, run_id=run_id)


def test_insert_then_replay_changes_nothing(conn) -> None:
    batch = [RawRecord("1", {"v": "a"}, T0), RawRecord("2", {"v": "b"}, T0)]
    first = _land(conn, batch)
    assert (first.received, first.inserted) == (2, 2)
    again = _land(conn, batch, run_id="r2")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert [r[4] for r in _rows(conn)] == ["r1", "r1"], "an unchanged record is not rewritten"


def test_latest_version_wins_within_and_across_batches(conn) -> None:
    stats = _land(
        conn, [RawRecord("1", {"v": "old"}, T0), RawRecord("1", {"v": "new"}, T0 + timedelta(seconds=1))]
    )
    assert (stats.received, stats.inserted) == (2, 1)
    assert _rows(conn)[0][1] == "new"
    stale = _land(conn, [RawRecord("1", {"v": "older"}, T0 - timedelta(days=1))], run_id="r2")
    assert stale.updated == 0 and _rows(conn)[0][1] == "new", "an older version never overwrites"
    same_second = _land(conn, [RawRecord("1", {"v": "newer"}, T0 + timedelta(seconds=1))], run_id="r3")
    assert same_second.updated == 1 and _rows(conn)[0][1] == "newer", "same-second edits are applied"


def test_delete_marks_the_row_and_keeps_its_last_body(conn) -> None:
    _land(conn, [RawRecord("1", {"v": "live"}, T0)])
    stats = _land(conn, [RawRecord("1", {"id": "1"}, None, deleted_at=T0 + timedelta(hours=1))], run_id="r2")
    assert stats.deleted == 1
    assert _rows(conn) == [("1", "live", True, T0 + timedelta(hours=1), "r2")]
    restored = _land(conn, [RawRecord("1", {"v": "back"}, T0 + timedelta(hours=2))], run_id="r3")
    assert restored.updated == 1 and _rows(conn)[0][1:3] == ("back", False)


def test_delete_of_an_unknown_record_is_kept_as_a_tombstone(conn) -> None:
    _land(conn, [RawRecord("9", {"id": "9"}, None, deleted_at=T0)])
    assert _rows(conn)[0][2] is True


def test_record_without_id_is_an_error_naming_the_record(conn) -> None:
    with pytest.raises(ValueError, match="record without id"):
        _land(conn, [RawRecord("", {"Deal_Name": "x"}, T0)])


def test_naive_timestamps_are_rejected(conn) -> None:
    with pytest.raises(ValueError, match="naive"):
        _land(conn, [RawRecord("1", {}, datetime(2026, 1, 1))])


def test_watermark_rolls_back_with_its_rows(conn) -> None:
    _land(conn, [RawRecord("0", {"v": "committed"}, T0)])
    conn.begin()
    _land(conn, [RawRecord("1", {"v": "a"}, T0)])
    set_watermark(conn, "zoho", "deals", T0.isoformat(), "r1")
    conn.rollback()
    assert get_watermark(conn, "zoho", "deals") is None
    assert [r[0] for r in _rows(conn)] == ["0"]
