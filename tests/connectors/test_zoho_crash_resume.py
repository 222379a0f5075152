"""Kill `salesops run ingest --source zoho` with SIGKILL mid-object, run it again: nothing lost,
nothing duplicated, the watermark consistent with what landed, the resumed run recorded.

The ingest runs in a real subprocess (``python -m flows.cli.main``, a Prefect flow run recorded in the
session's test Prefect server) against a ZohoSandbox served from this test process; a
``delay_seconds`` fault on the Deals listing makes it slow enough to kill between pages. DuckDB
allows one writer process, so the warehouse is read only after the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from zoho_support import zoho_company

from flows.config.settings import Settings
from flows.sandbox.zoho.server import ZohoSandbox

ROOT = Path(__file__).resolve().parents[2]
N_DEALS = 1500


def _env(sb: ZohoSandbox, home: Path) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOPS_")}
    env.update(
        {
            # `salesops run ingest` is a Prefect flow: it records itself in the session's test
            # server instead of starting a temporary one (which a SIGKILL would leave running).
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "SALESOPS_HOME": str(home),
            "SALESOPS_ZOHO_ACCOUNTS_URL": sb.accounts_url,
            "SALESOPS_ZOHO_CLIENT_ID": sb.CLIENT_ID,
            "SALESOPS_ZOHO_CLIENT_SECRET": sb.CLIENT_SECRET,
            "SALESOPS_ZOHO_REFRESH_TOKEN": sb.REFRESH_TOKEN,
            "SALESOPS_FXIAOKE_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
            # two 200-record pages of deals (or one page of stage history) a landing batch: the kill
            # falls after a committed batch and with a batch gathered but not landed
            "SALESOPS_LANDING_BATCH_RECORDS": "400",
        }
    )
    return env


def _ingest(env: dict[str, str], objects: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "flows.cli.main", "run", "ingest", "--source", "zoho", "--objects", objects]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize(
    ("objects", "killed", "path", "min_calls", "delay"),
    [
        # killed while the 4th page of deals is in flight: pages 1 and 2 are committed (a batch),
        # page 3 is read but not landed
        ("deals", "deals", "/crm/v8/Deals", 4, 0.25),
        # killed while fetching histories of the 2nd page of changed deals
        ("deal_stage_history", "deal_stage_history", "/Stage_History", 260, 0.03),
    ],
)
@pytest.mark.usefixtures("prefect_harness")
def test_sigkill_mid_object_then_resume(
    tmp_path: Path, objects: str, killed: str, path: str, min_calls: int, delay: float
):
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    company = zoho_company(N_DEALS, modified=base, spaced=True)
    for i, deal in enumerate(company.deals):  # 10 s apart: the 5-minute overlap re-reads ~30 deals
        deal.modified_at = base + timedelta(seconds=10 * i)
    with ZohoSandbox(company) as sb:
        env = _env(sb, tmp_path)
        sb.faults.update({"delay_seconds": delay, "fault_path": path})
        proc = _ingest(env, objects)
        deadline = time.monotonic() + 120
        calls = 0
        while time.monotonic() < deadline and proc.poll() is None:
            counts = sb.request_counts()
            calls = sum(n for p, n in counts.items() if p.endswith(path) or p == path)
            if calls >= min_calls:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"ingest ended before the kill: {proc.stdout.read().decode()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        warehouse = Settings(home=tmp_path).warehouse_path  # where `salesops run ingest` writes
        table = f"raw.zoho_{killed}"
        with duckdb.connect(str(warehouse), read_only=True) as db:
            landed = db.execute(f"select count(*) from {table}").fetchone()[0]
            mark = db.execute(
                "select watermark from ops.watermarks where source = 'zoho' and object = ?", [killed]
            ).fetchone()
            killed_runs = db.execute("select count(*) from ops.ingest_runs").fetchone()[0]
        expected_total = N_DEALS if killed == "deals" else sum(len(d.history) for d in company.deals)
        assert 0 < landed < expected_total, "the kill must land between the first and the last page"
        assert mark is not None, "a committed page advanced the watermark"
        assert killed_runs == 0  # the killed run never got to record itself
        # the watermark never runs ahead of what landed
        with duckdb.connect(str(warehouse), read_only=True) as db:
            newest = db.execute(f"select max(modified_at) from {table}").fetchone()[0]
        if killed == "deals":
            assert datetime.fromisoformat(mark[0]) == newest

        # something changes between the crash and the rerun
        sb.faults.update({"delay_seconds": 0.0, "fault_path": None})
        touched = sb.simulate("deals", update=5)["updated"]
        proc = _ingest(env, objects)
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out.decode()[-3000:]

    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows, distinct = db.execute(f"select count(*), count(distinct id) from {table}").fetchone()
        mark2 = db.execute(
            "select watermark from ops.watermarks where source = 'zoho' and object = ?", [killed]
        ).fetchone()[0]
        runs = db.execute(
            "select object, status, mode, rows_received, rows_inserted, api_calls, error "
            "from ops.ingest_runs where source = 'zoho'"
        ).fetchall()
        if killed == "deals":
            ids = {r[0] for r in db.execute("select id from raw.zoho_deals").fetchall()}
            amounts = dict(
                db.execute(
                    "select id, cast(json_extract_string(record, '$.Amount') as double) from raw.zoho_deals"
                ).fetchall()
            )
            newest = db.execute("select max(modified_at) from raw.zoho_deals").fetchone()[0]
        else:
            ids = {r[0] for r in db.execute(f"select id from {table}").fetchall()}
    if killed == "deals":
        assert rows == distinct == N_DEALS and ids == set(sb.live_ids("Deals"))
        for rid in touched:  # the latest version won
            assert amounts[rid] == sb._rows["Deals"][rid].record["Amount"]
        assert datetime.fromisoformat(mark2) == newest
    else:
        expected = {f"{d}:{h['id']}" for d in sb.live_ids("Deals") for h in sb.stage_history(d)}
        assert rows == distinct and ids == expected
    assert datetime.fromisoformat(mark2) > datetime.fromisoformat(mark[0])
    ((obj, status, mode, received, inserted, api_calls, error),) = runs
    assert (obj, status, mode, error) == (killed, "succeeded", "incremental", None)
    assert api_calls > 0 and inserted == (rows - landed)
    total = N_DEALS if killed == "deals" else None
    if total:
        assert received < total, "the rerun resumed from the watermark instead of starting over"
    print(f"{killed}: {landed} rows landed before SIGKILL, rerun received {received}, inserted {inserted}")
