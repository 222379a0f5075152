"""A working warehouse with the real marts: the DuckDB reference the other-engine tests (PostgreSQL,
Spark) compare against, and what the tests of the published file start from.

Built the way the nightly pipeline builds it, on a small sandbox company: both CRMs ingested over
HTTP through the real connectors, one deal quarantined unless told not to (what the raw gate does
to a bad deal, so staging must leave it out on every engine), config loaded, ``dbt build``, then
the commission engine (which writes finance.* and rebuilds fct_commissions).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from flows.commissions.refresh import refresh_commissions
from flows.config import loader as config_loader
from flows.config.settings import Settings, patched_environ
from flows.crm.landing import ingest_source
from flows.crm.registry import build_connectors
from flows.quality.quarantine import ensure_quarantine_table
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.generator import generate_company
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt


def build_reference_warehouse(
    home: Path, *, deals: int, run_id: str, run_date: date, quarantine: bool = True
) -> tuple[Settings, str | None]:
    """A working warehouse under ``home`` for the demo company (seed 42, the 24 reps whose targets
    config/targets.csv holds) with ``deals`` deals; returns its settings and the quarantined deal id
    (None with ``quarantine=False``: every landed deal reaches the marts)."""
    company = generate_company(seed=42, reps=24, deals=deals, as_of=run_date)
    with (
        SandboxCluster(company) as cluster,
        patched_environ(cluster.settings_env() | {"SALESOPS_HOME": str(home)}),
    ):
        settings = Settings()
        settings.ensure_dirs()
        warehouse = Warehouse(settings.warehouse_path)
        for connector in build_connectors(settings):
            try:
                ingest_source(connector, warehouse, run_id=run_id)
            finally:
                connector.close()
    deal_id = None
    with warehouse.connect() as conn:
        if quarantine:
            ensure_quarantine_table(conn)
            deal_id = conn.execute("select min(id) from raw.zoho_deals").fetchone()[0]
            conn.execute(
                "insert into ops.quarantine values (?, 'zoho', 'deals', 'zoho_deals', ?, 'test', "
                "'warning', 'quarantined by the test', null, null, ?, null, null)",
                [run_id, deal_id, datetime.now(UTC)],
            )
        config_loader.load_config(conn, settings.config_path, run_id=run_id)
    run_dbt(settings, ["build"], run_date=run_date)
    refresh_commissions(settings, run_date)
    return Settings(home=home), deal_id


def duck_query(settings: Settings, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the reference warehouse (a short-lived connection: dbt may open it next)."""
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        return conn.execute(sql).fetchall()
