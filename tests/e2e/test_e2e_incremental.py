"""Incremental dbt: two nightlies on consecutive run dates, then the same warehouse rebuilt with
``--full-refresh``, must hold the same marts, intermediate and staging tables row for row.

Between the nights one Zoho deal is edited, one deleted, one made invalid (the gate quarantines it
when it is landed again, so yesterday's staged copy must go) and one Fxiaoke opportunity edited.
The incremental staging models (``macros/incremental.sql``) re-parse only those rows, and the
incremental ``int_funnel_stage_events`` redoes only the deals whose history changed or that left
fct_deals; the full rebuild redoes everything. Any row the incremental path kept, missed or merged
wrongly shows up in one of the two EXCEPT ALL queries.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from dq_helpers import fxiaoke_edited, served_deal, served_fxiaoke, touch_zoho
from e2e_support import RUN_DATE, demo_company, query_work
from faults_support import delete_zoho_record

from flows.cli.demo import demo_environment
from flows.commissions.refresh import build_before_engine, refresh_commissions
from flows.config.settings import get_settings
from flows.nightly import nightly
from flows.warehouse.dbt_runner import run_dbt

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness")]

#: written by the engine at each run, not by dbt: the full rebuild re-runs the engine
VOLATILE = {"calculated_at"}
SCHEMAS = ("staging", "intermediate", "marts")


def _tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return conn.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in {SCHEMAS} and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()


def _snapshot(work: Path, snap: Path) -> dict[tuple[str, str], int]:
    """Copy every staging and marts table of the working file to ``snap``; rows per table."""
    counts = {}
    with duckdb.connect(str(work)) as conn:
        conn.execute(f"attach '{snap}' as snap")
        for schema, table in _tables(conn):
            conn.execute(f'create table snap."{schema}__{table}" as select * from {schema}."{table}"')
            counts[(schema, table)] = conn.execute(f'select count(*) from {schema}."{table}"').fetchone()[0]
    return counts


def _differences(work: Path, snap: Path) -> dict[str, tuple[int, int]]:
    """Per table, rows only in the incremental copy and rows only in the rebuilt one."""
    found = {}
    with duckdb.connect(str(work)) as conn:
        conn.execute(f"attach '{snap}' as snap (read_only)")
        for schema, table in _tables(conn):
            columns = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in VOLATILE
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            rebuilt, kept = f'{schema}."{table}"', f'snap."{schema}__{table}"'
            only_kept = conn.execute(
                f"select count(*) from (select {cols} from {kept} except all select {cols} from {rebuilt})"
            ).fetchone()[0]
            only_rebuilt = conn.execute(
                f"select count(*) from (select {cols} from {rebuilt} except all select {cols} from {kept})"
            ).fetchone()[0]
            if only_kept or only_rebuilt:
                found[f"{schema}.{table}"] = (only_kept, only_rebuilt)
    return found


def _tests_started(log: str) -> Counter[str]:
    """How often each dbt test started in a stretch of ``<home>/logs/dbt.log``."""
    return Counter(re.findall(r" START test (\S+) ", log))


@pytest.mark.timeout(900)
def test_incremental_nights_equal_a_full_refresh(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = home / "work" / "warehouse.duckdb"
    company = demo_company()  # ~120 Zoho deals: one bad deal is under 1 %, quarantined
    first_date, second_date = RUN_DATE - timedelta(days=1), RUN_DATE
    with demo_environment(home, company) as cluster:
        assert nightly(run_date=first_date, send_reports=False).status == "completed"
        zoho_ids = sorted(cluster.zoho.live_ids("Deals"))
        edited, deleted, invalid = zoho_ids[0], zoho_ids[1], zoho_ids[2]
        served_deal(cluster, edited)["Amount"] = 12345.67
        touch_zoho(cluster, "Deals", edited)
        served_deal(cluster, invalid)["Amount"] = -500.0  # "amount is not negative": quarantined
        touch_zoho(cluster, "Deals", invalid)
        delete_zoho_record(cluster.zoho, "Deals", deleted)
        opportunity_id, opportunity = sorted(served_fxiaoke(cluster, "OpportunityObj").items())[0]
        opportunity["name"] = "renamed between the nights"
        opportunity["last_modified_time"] = int(cluster.fxiaoke.now().timestamp() * 1000)
        fxiaoke_edited(cluster, "OpportunityObj")

        dbt_log = home / "logs" / "dbt.log"
        dbt_log.rename(dbt_log.with_name("dbt-first-night.log"))  # the second night's log alone
        second = nightly(run_date=second_date, send_reports=False)
        assert second.status == "completed" and second.quarantined == 1

    # one test pass: no dbt test ran twice in the night (the build after the engine runs only the
    # tests of the engine's marts), and each outcome is in ops.dbt_test_results for the gate
    started = _tests_started(dbt_log.read_text())
    assert "unique_fct_commissions_commission_line_id" in started and "unique_fct_deals_deal_id" in started
    # dbt's unit tests (fixtures, the same every night) run in CI, not in the nightly
    assert " START unit_test " not in dbt_log.read_text()
    assert [name for name, runs in started.items() if runs > 1] == []
    recorded = {
        name for (name,) in query_work(home, "select split_part(unique_id, '.', 3) from ops.dbt_test_results")
    }
    assert set(started) <= recorded

    # the second night merged the changes into yesterday's staging rows (delete+insert, not a rebuild)
    ran = home / "dbt_target" / "run" / "salesops" / "models" / "staging" / "zoho" / "stg_zoho__deals.sql"
    assert 'delete from "warehouse"."staging"."stg_zoho__deals"' in ran.read_text()
    staged = dict(query_work(home, "select deal_id, amount from staging.stg_zoho__deals"))
    assert str(staged[edited]) == "12345.67"
    assert invalid not in staged  # quarantined today: yesterday's copy is gone
    assert query_work(
        home, f"select is_deleted from staging.stg_zoho__deals where deal_id = '{deleted}'"
    ) == [(True,)]
    # and int_funnel_stage_events kept yesterday's events of the other deals: its pre-hook deleted
    # only the deals that changed or left fct_deals (the quarantined one is among them)
    assert 'delete from "warehouse"."intermediate"."int_funnel_stage_events"' in dbt_log.read_text()
    event_deals = {d for (d,) in query_work(home, "select deal_id from intermediate.int_funnel_stage_events")}
    assert event_deals and f"zoho:{invalid}" not in event_deals
    names = query_work(
        home,
        "select opportunity_name from staging.stg_fxiaoke__opportunities "
        f"where opportunity_id = '{opportunity_id}'",
    )
    assert names == [("renamed between the nights",)]

    snap = tmp_path / "incremental.duckdb"
    counts = _snapshot(work, snap)
    assert counts[("marts", "fct_deals")] > 0 and counts[("staging", "stg_zoho__deals")] > 0
    assert counts[("intermediate", "int_funnel_stage_events")] > 0

    with demo_environment(home, company):  # same settings; no CRM is read again
        rebuilt = run_dbt(get_settings(), build_before_engine(full_refresh=True), run_date=second_date)
        refresh_commissions(get_settings(), second_date)
    assert {n.name for n in rebuilt.models_built} >= {
        "stg_zoho__deals",
        "stg_fxiaoke__opportunities",
        "int_funnel_stage_events",
    }
    assert _differences(work, snap) == {}
