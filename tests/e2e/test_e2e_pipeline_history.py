"""End to end: two nightly runs on consecutive days build the pipeline history and its weekly movement.

The first nightly (Sunday 2026-11-29, the end of ISO week 48) records that day's open pipeline and
reconstructs the weeks before it from the stage history. Between the runs one rep's deals change in
the Zoho sandbox: one moves to the next stage, one is won, one's close date is pushed out a month. The
second nightly (Monday 2026-11-30) must add its own snapshot, and week 49's movement row of that rep
must say exactly that: the opening is the rep's open deals in the CRM on Sunday, one advanced, one won,
one slipped, nothing else, and the closing one deal fewer. A rerun of Monday changes nothing, a rerun
of Sunday does not write Monday's CRM over Sunday's snapshot, and the weekly report of week 49 shows
the movement row. The deals picked are in USD, so their reporting amount is their CRM amount.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from dq_helpers import served_zoho, touch_zoho
from e2e_support import demo_company, query_work
from reports_support import text_cells

from flows.cli.demo import demo_environment
from flows.config.settings import Settings
from flows.nightly import nightly
from flows.reports.manager_report import build_manager_reports
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]

SUNDAY, MONDAY = date(2026, 11, 29), date(2026, 11, 30)
SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "crm_stage_mapping.csv"


def _zoho_stages() -> tuple[dict[str, int], set[str]]:
    """Order of each open Zoho stage and the stage list of the Standard pipeline, from the stage seed."""
    rows = [r for r in csv.DictReader(SEED.open(encoding="utf-8")) if r["source"] == "zoho"]
    return {r["stage"]: int(r["stage_order"]) for r in rows if r["stage_category"] == "open"}, {
        r["stage"] for r in rows
    }


def _pick(deals: dict[str, dict], open_order: dict[str, int]) -> tuple[str, list[str], int]:
    """An owner with three open USD deals (the first not in the last open stage) and their open count."""
    by_owner: dict[str, list[str]] = defaultdict(list)
    open_count: dict[str, int] = defaultdict(int)
    last_stage = max(open_order.values())
    for rid, record in sorted(deals.items()):
        if record.get("Stage") not in open_order:
            continue
        owner = record["Owner"]["id"]
        open_count[owner] += 1
        if record.get("Currency", "USD") == "USD" and record.get("Amount"):
            by_owner[owner].append(rid)
    for owner, ids in by_owner.items():
        movable = [rid for rid in ids if open_order[deals[rid]["Stage"]] < last_stage]
        if len(ids) >= 3 and movable:
            rest = [rid for rid in ids if rid != movable[0]][:2]
            return owner, [movable[0], *rest], open_count[owner]
    raise AssertionError("no Zoho owner with three open USD deals in the demo company")


def _money(value) -> str:
    """A whole amount as the en report prints it (half up, grouped)."""
    return f"{Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def test_two_nightlies_give_the_week_movement_of_a_deal_advanced_won_and_slipped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    open_order, _ = _zoho_stages()
    with demo_environment(home, demo_company(deals=120, as_of=SUNDAY)) as cluster:
        first = nightly(run_date=SUNDAY)
        assert first.status == "completed"
        deals = served_zoho(cluster, "Deals")
        owner, (advanced, won, slipped), opening = _pick(deals, open_order)
        amounts = {rid: Decimal(str(deals[rid]["Amount"])) for rid in (advanced, won, slipped)}
        next_stage = {order: stage for stage, order in open_order.items()}
        deals[advanced]["Stage"] = next_stage[open_order[deals[advanced]["Stage"]] + 1]
        deals[won]["Stage"] = "Closed Won"
        deals[won]["Closing_Date"] = MONDAY.isoformat()
        pushed = date.fromisoformat(deals[slipped]["Closing_Date"]) + timedelta(days=30)
        deals[slipped]["Closing_Date"] = pushed.isoformat()
        for rid in (advanced, won, slipped):
            touch_zoho(cluster, "Deals", rid)

        second = nightly(run_date=MONDAY)
        assert second.status == "completed"
        rep_id = f"zoho:{owner}"
        movement_sql = (
            "select opening_snapshot_date, closing_snapshot_date, opening_count, opening_amount, new_count, "
            "advanced_count, advanced_amount, moved_back_count, slipped_count, slipped_amount, won_count, "
            "won_amount, lost_count, removed_count, amount_change, closing_count, closing_amount "
            f"from marts.fct_pipeline_movement where week_start = '{MONDAY}' and rep_id = '{rep_id}'"
        )
        (row,) = query_work(home, movement_sql)
        (o_date, c_date, o_count, o_amount, new, adv, adv_amt, back, slip, slip_amt, won_n, won_amt, lost,
         removed, change, c_count, c_amount) = row  # fmt: skip
        assert (o_date, c_date) == (SUNDAY, MONDAY)
        assert (o_count, new, adv, back, slip, won_n, lost, removed, c_count) == (
            opening, 0, 1, 0, 1, 1, 0, 0, opening - 1,
        )  # fmt: skip
        assert (adv_amt, slip_amt, won_amt, change) == (amounts[advanced], amounts[slipped], amounts[won], 0)
        assert c_amount == o_amount - amounts[won]
        history = (
            "select snapshot_date, is_reconstructed, count(*) from marts.fct_pipeline_snapshots group by all"
        )
        counts = {(d, r): n for d, r, n in query_work(home, history)}
        assert counts[(SUNDAY, False)] > 0 and counts[(MONDAY, False)] > 0
        assert counts[(SUNDAY - timedelta(days=1), True)] > 0  # the weeks before, from the stage history
        snapshot_sql = "select * from marts.fct_pipeline_snapshots order by snapshot_date, deal_id"
        recorded = query_work(home, snapshot_sql)

        # a rerun of Monday replaces Monday's rows with the same; a rerun of Sunday (today's CRM, where
        # the won deal is closed) does not touch Sunday's recorded snapshot
        settings = Settings()
        run_dbt(settings, ["build", "--select", "fct_pipeline_snapshots+"], run_date=MONDAY)
        run_dbt(settings, ["run", "--select", "fct_pipeline_snapshots"], run_date=SUNDAY)
        assert query_work(home, snapshot_sql) == recorded
        assert query_work(home, movement_sql) == [row]

        with Warehouse(settings.warehouse_path).connect() as conn:
            reports = build_manager_reports(conn, settings, run_date=date(2026, 12, 6), weekly=True)
        rep_name = query_work(home, f"select rep_name from marts.dim_sales_reps where rep_id = '{rep_id}'")[
            0
        ][0]
        (report,) = [r for r in reports if f">{rep_name}</td>" in r.html]
        start = report.html.index("Pipeline movement in week 49")
        section = report.html[start : report.html.index("</table>", start)]
        assert text_cells(section, rep_name) == [
            f"{_money(o_amount)} ({opening})", "0 (0)", f"{_money(amounts[advanced])} (1)", "0 (0)",
            f"{_money(amounts[slipped])} (1)", f"{_money(amounts[won])} (1)", "0 (0)", "0 (0)", "0",
            f"{_money(c_amount)} ({opening - 1})",
        ]  # fmt: skip
