"""Issue 13, item 1: a won deal deleted in the CRM never blocks the nightly.

Yesterday's commission lines used to be tested (``relationships`` to ``fct_deals``) in the run's
first ``dbt build``, before the engine recalculated them: once a paid deal was deleted, every
nightly failed at step 'dbt build' until someone repaired the warehouse by hand. Now the engine's
marts are built and tested after the engine (flows/commissions/refresh.py), so the deletion is a
clawback of what was paid in a closed period, and an open period simply no longer pays the deal.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from e2e_support import RUN_DATE
from faults_support import SMALL, closed_snapshot, delete_zoho_record, ledger, paid_deals

from flows.cli.demo import demo_environment
from flows.commissions.close import close_period
from flows.commissions.refresh import refresh_commissions
from flows.config.settings import get_settings
from flows.nightly import nightly
from flows.sandbox.company.generator import generate_company

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.mark.timeout(900)
def test_a_deleted_paid_deal_is_clawed_back_and_the_nightly_completes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    company = generate_company(**SMALL, as_of=RUN_DATE)
    work = home / "work" / "warehouse.duckdb"
    with demo_environment(home, company) as cluster:
        assert nightly(run_date=RUN_DATE).status == "completed"
        open_period = RUN_DATE.replace(day=1)
        closed = max(p for p in paid_deals(work).values() if p < open_period)
        in_closed = paid_deals(work, closed, closed)
        in_open = paid_deals(work, open_period, open_period)
        assert in_closed and in_open, "the small company has paid deals in both periods"
        with duckdb.connect(str(work)) as conn:
            close_period(conn, closed, closed_by="test")
        snapshot = closed_snapshot(work)
        paid = {
            d: sum(amount for _, kind, period, deal, amount in ledger(work) if deal == d and period == closed)
            for d in in_closed
        }
        gone_closed, gone_open = sorted(in_closed)[0], sorted(in_open)[0]
        for deal in (gone_closed, gone_open):
            delete_zoho_record(cluster.zoho, "Deals", deal.removeprefix("zoho:"))

        second = nightly(run_date=RUN_DATE)  # used to fail at step 'dbt build' (relationships test)
        assert second.status == "completed"

        lines = ledger(work)
        clawbacks = [ln for ln in lines if ln[3] == gone_closed and ln[1] == "clawback"]
        assert clawbacks, "a deleted deal that was paid in a closed period is clawed back"
        assert {ln[2] for ln in clawbacks} == {open_period}  # in the first open period
        assert sum((ln[4] for ln in clawbacks), Decimal(0)) == -paid[gone_closed]
        assert not [ln for ln in lines if ln[3] == gone_open and ln[2] == open_period and ln[1] != "clawback"]
        assert closed_snapshot(work) == snapshot  # the closed period is exactly as closed

        # the commission step again (a rerun): the clawback is posted once, not twice
        refresh_commissions(get_settings(), RUN_DATE)
        assert ledger(work) == lines
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as published:
        deals = {d for (d,) in published.execute("select deal_id from marts.fct_deals").fetchall()}
        claws = published.execute(
            "select count(*) from marts.fct_commissions where deal_id = ? and line_type = 'clawback'",
            [gone_closed],
        ).fetchone()[0]
    assert gone_closed not in deals and gone_open not in deals
    assert claws == len(clawbacks)
