"""A working warehouse with the real marts, built the way the nightly pipeline builds it.

A small sandbox company is ingested over HTTP through the real connectors, the config is loaded,
``dbt build`` runs, then the commission engine (which writes finance.* and rebuilds fct_commissions).
Tests of what readers get (the published file, its Parquet files, the README's query) start from it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.commissions.refresh import refresh_commissions
from flows.config import loader as config_loader
from flows.config.settings import Settings, patched_environ
from flows.crm.landing import ingest_source
from flows.crm.registry import build_connectors
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.generator import generate_company
from flows.warehouse.database import Warehouse
from flows.warehouse.dbt_runner import run_dbt


def build_working_marts(home: Path, run_date: date, *, reps: int = 24, deals: int = 240) -> Settings:
    """The demo company (seed 42; 24 reps are those config/targets.csv holds targets for), fewer deals."""
    company = generate_company(seed=42, reps=reps, deals=deals, as_of=run_date)
    with (
        SandboxCluster(company) as cluster,
        patched_environ(cluster.settings_env() | {"SALESOPS_HOME": str(home)}),
    ):
        settings = Settings()
        settings.ensure_dirs()
        warehouse = Warehouse(settings.warehouse_path)
        for connector in build_connectors(settings):
            try:
                ingest_source(connector, warehouse, run_id="marts-test")
            finally:
                connector.close()
    with warehouse.connect() as conn:
        config_loader.load_config(conn, settings.config_path, run_id="marts-test")
    settings = Settings(home=home)
    run_dbt(settings, ["build"], run_date=run_date)
    refresh_commissions(settings, run_date)
    return settings
