"""Issue 13, item 9: a record deleted for good in Fxiaoke disappears without a full refresh.

Fxiaoke has no feed of deleted records: a permanently deleted row simply stops being returned,
so an incremental read (by modification time) never notices it. The connector now ends an
incremental read with a cheap id-only sweep (data/query projecting ``_id``, keyset-paged) once
every ``SALESOPS_FXIAOKE_DELETION_SWEEP_DAYS`` (default: every night), and marks the stored ids
the API no longer has as deleted. Connectors are built from Settings, as the nightly builds them.

Guard: a sweep that finds more than ``SALESOPS_FXIAOKE_SWEEP_MAX_MISSING_SHARE`` (default 20 %) of an
object's landed live rows missing fails the ingest and marks none deleted: a truncated or filtered
answer must never wipe the warehouse.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from faults_support import SMALL, delete_fxiaoke_record
from fxiaoke_support import AS_OF, FakeClock, RecordingSession

from flows.config.settings import Settings
from flows.crm.fxiaoke.connector import FxiaokeConnector
from flows.crm.landing import IngestError, ingest_source
from flows.sandbox.company.generator import generate_company
from flows.sandbox.fxiaoke.server import FxiaokeSandbox
from flows.warehouse.database import Warehouse

OBJECTS = ["opportunities", "payments"]


@pytest.fixture
def company():
    return generate_company(**SMALL, as_of=AS_OF)


def _settings(sb: FxiaokeSandbox, home: Path) -> Settings:
    return Settings(
        home=home,
        fxiaoke_base_url=sb.base_url,
        fxiaoke_app_id=sb.APP_ID,
        fxiaoke_app_secret=sb.APP_SECRET,
        fxiaoke_permanent_code=sb.PERMANENT_CODE,
        fxiaoke_open_user_id=sb.ADMIN_OPEN_USER_ID,
    )


def _deleted(warehouse: Warehouse, obj: str) -> set[str]:
    with warehouse.connect() as conn:
        return {r for (r,) in conn.execute(f"select id from raw.fxiaoke_{obj} where is_deleted").fetchall()}


def test_a_record_deleted_for_good_is_marked_deleted_by_the_nightly_sweep(
    sandbox: FxiaokeSandbox, clock: FakeClock, tmp_path: Path
) -> None:
    settings = _settings(sandbox, tmp_path)
    warehouse = Warehouse(settings.warehouse_path)
    settings.ensure_dirs()
    sessions: list[RecordingSession] = []

    def ingest(run_id: str) -> dict[str, int]:
        sessions.append(RecordingSession())
        connector = FxiaokeConnector.from_settings(
            settings, clock=clock, sleep=clock.advance, session=sessions[-1]
        )
        try:
            runs = ingest_source(connector, warehouse, run_id=run_id, objects=OBJECTS)
        finally:
            connector.close()
        return {r.object: r.stats.deleted for r in runs}

    ingest("r1")  # the first load reads everything: it counts as a sweep, with no extra call
    assert not [s for s in sessions[0].sent if "fieldProjection" in str(s.body)]
    won = next(r["_id"] for r in sandbox.records("opportunities") if r.get("biz_status") == "win")
    delete_fxiaoke_record(sandbox, "OpportunityObj", won)
    clock.advance(60)
    paid_gone = set(sandbox.simulate("payments", delete=2)["deleted"])

    clock.advance(3600)  # an hour later (a rerun the same night): no sweep is due yet
    assert ingest("r2") == {"opportunities": 0, "payments": 0}
    clock.advance(timedelta(days=1).total_seconds())  # the next night: the sweep finds them
    assert ingest("r3") == {"opportunities": 1, "payments": 2}
    assert _deleted(warehouse, "opportunities") == {won}
    assert _deleted(warehouse, "payments") == paid_gone
    sweep = [
        s
        for s in sessions[2].sent
        if s.body.get("data", {}).get("search_query_info", {}).get("fieldProjection")
    ]
    assert sweep and all(s.body["data"]["search_query_info"]["fieldProjection"] == ["_id"] for s in sweep)
    # id-only pages: one call per 100 rows of each object
    assert len(sweep) <= sum(len(sandbox.records(o)) // 100 + 1 for o in OBJECTS)
    with warehouse.connect() as conn:  # the last live body is kept, flagged deleted
        name = conn.execute(
            "select record->>'name' from raw.fxiaoke_opportunities where id = ?", [won]
        ).fetchone()
    assert name and name[0]

    clock.advance(3600)
    assert ingest("r4") == {"opportunities": 0, "payments": 0}  # nothing found twice
    assert settings.fxiaoke_deletion_sweep_days == 1  # the default: every nightly run


def test_a_sweep_missing_too_many_rows_fails_the_ingest_and_marks_nothing_deleted(
    sandbox: FxiaokeSandbox, clock: FakeClock, tmp_path: Path
) -> None:
    """A truncated or filtered answer (here: 30 % of the payments no longer served, as when the API
    user loses the data permission on them) must not take them out of the warehouse."""
    settings = _settings(sandbox, tmp_path)
    warehouse = Warehouse(settings.warehouse_path)
    settings.ensure_dirs()

    def ingest(run_id: str, guard: Settings) -> dict[str, int]:
        connector = FxiaokeConnector.from_settings(guard, clock=clock, sleep=clock.advance)
        try:
            runs = ingest_source(connector, warehouse, run_id=run_id, objects=["payments"])
        finally:
            connector.close()
        return {r.object: r.stats.deleted for r in runs}

    ingest("r1", settings)
    landed = sorted(r["_id"] for r in sandbox.records("payments"))
    hidden = landed[: -(-len(landed) * 3 // 10)]  # 30 %, rounded up: over the 20 % default
    assert len(hidden) >= 5 and settings.fxiaoke_sweep_max_missing_share == 0.2
    for rid in hidden:
        delete_fxiaoke_record(sandbox, "PaymentObj", rid)

    clock.advance(timedelta(days=1).total_seconds())  # the next night: the sweep is due
    with pytest.raises(IngestError) as failed:
        ingest("r2", settings)
    message = str(failed.value)
    assert (
        f"fxiaoke payments: the id sweep did not return {len(hidden)} of the {len(landed)} live rows"
        in message
    )
    assert "SALESOPS_FXIAOKE_SWEEP_MAX_MISSING_SHARE=0.2" in message and "none was marked deleted" in message
    assert _deleted(warehouse, "payments") == set()
    clock.advance(3600)  # the sweep was not recorded as done: the next run sweeps (and stops) again
    with pytest.raises(IngestError, match="did not return"):
        ingest("r3", settings)

    # the operator checked in Fxiaoke: they really were deleted; one run with the guard lifted
    lifted = settings.model_copy(update={"fxiaoke_sweep_max_missing_share": 1.0})
    assert ingest("r4", lifted) == {"payments": len(hidden)}
    assert _deleted(warehouse, "payments") == set(hidden)
