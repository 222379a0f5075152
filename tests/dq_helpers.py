"""Helpers shared by the data-quality tests that inject bad data through the sandbox CRMs.

A small seeded company is served by the sandbox (over HTTP, through the real connectors), broken
in some way, landed with ``flows.crm.landing.ingest_source`` and gated with
``flows.quality.gate.run_checks``.
Used by ``test_quality_sandbox.py`` (deals), ``test_quality_order_to_cash.py`` (sales orders,
invoices, payments) and the e2e gate test (``tests/e2e/test_e2e_gate.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flows.config.settings import Settings, patched_environ
from flows.crm.landing import ingest_source
from flows.crm.registry import build_connectors
from flows.quality.gate import run_checks
from flows.quality.quarantine import quarantine_summary
from flows.quality.results import GateResult
from flows.reports.alerts import build_alert_report
from flows.sandbox.cluster import SandboxCluster
from flows.sandbox.company.generator import generate_company
from flows.sandbox.company.model import Company
from flows.warehouse.database import Warehouse

TODAY = datetime.now(UTC).date()
ZOHO_SUITES = ["raw_zoho_deals", "raw_zoho_users"]
ZOHO_OBJECTS = ["users", "deals"]


def company(deals: int = 300) -> Company:
    """~158 Zoho deals at 300 (one page of 200): one bad deal is < 1 %, i.e. quarantined, not blocking."""
    return generate_company(seed=7, reps=8, deals=deals, as_of=TODAY)


@contextmanager
def sandbox(home: Path, served: Company) -> Iterator[tuple[SandboxCluster, Settings]]:
    with (
        SandboxCluster(served) as cluster,
        patched_environ(cluster.settings_env() | {"SALESOPS_HOME": str(home)}),
    ):
        yield cluster, Settings()


def land(settings: Settings, run_id: str, source: str = "zoho", objects: list[str] | None = None) -> None:
    warehouse = Warehouse(settings.warehouse_path)
    for connector in build_connectors(settings, [source]):
        try:
            ingest_source(connector, warehouse, run_id=run_id, objects=objects or ZOHO_OBJECTS)
        finally:
            connector.close()


def gate(settings: Settings, run_id: str, suites: list[str] | None = None, **kwargs) -> GateResult:
    with Warehouse(settings.warehouse_path).connect() as conn:
        return run_checks(conn, settings, run_id=run_id, suites=suites or ZOHO_SUITES, **kwargs)


def summary(settings: Settings, run_id: str) -> list[dict]:
    with Warehouse(settings.warehouse_path).connect() as conn:
        return quarantine_summary(conn, run_id)


def alert_text(settings: Settings, result: GateResult) -> str:
    report = build_alert_report(None, settings, gate=result, run_date=TODAY, run_id=result.run_id)
    return report.text


def served_deal(cluster: SandboxCluster, deal_id: str) -> dict:
    return cluster.zoho._rows["Deals"][deal_id].pin()  # kept, so edits to it are served


def touch_zoho(cluster: SandboxCluster, module: str, rid: str) -> None:
    """A record edited in place is modified now: its ``Modified_Time`` and its place in the
    sandbox's sorted listing orders (what an incremental read finds)."""
    now = cluster.zoho.now()
    rows = cluster.zoho._rows[module]
    rows[rid].pin()["Modified_Time"] = now.isoformat()
    rows.set_modified(rows[rid], now)


def fxiaoke_edited(cluster: SandboxCluster, api_name: str) -> None:
    """Records of ``api_name`` were edited in place: the sandbox re-sorts the object's order."""
    cluster.fxiaoke._state.orders.changed(api_name)


def zoho_deal_ids(cluster: SandboxCluster) -> list[str]:
    return cluster.zoho.live_ids("Deals")


def served_zoho(cluster: SandboxCluster, module: str) -> dict[str, dict]:
    """The Zoho sandbox's live records of ``module`` by id (mutable: edits are served)."""
    rows = cluster.zoho._rows[module]
    return {rid: rows[rid].pin() for rid in rows.ids()}


def served_fxiaoke(cluster: SandboxCluster, api_name: str) -> dict[str, dict]:
    """The Fxiaoke sandbox's records of ``api_name`` (``PaymentObj`` …) by ``_id`` (mutable)."""
    return cluster.fxiaoke._state.data.objects[api_name]


def file_digests(home: Path) -> dict[str, str]:
    """SHA-256 of every published file: ``<home>/warehouse.duckdb`` and ``<home>/marts/*``."""
    files = [home / "warehouse.duckdb", *sorted((home / "marts").glob("*"))]
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()
    }
