"""The Prefect flow ``salesops-ingest``: land one CRM's objects (``salesops run ingest``)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow
from prefect.artifacts import create_table_artifact

from flows.config.settings import get_settings
from flows.crm.landing import IngestError, ingest_source
from flows.crm.page_batches import BatchLimits
from flows.crm.registry import build_connectors
from flows.pipeline.logs import route_project_logs
from flows.pipeline.progress import ingest_page
from flows.pipeline.runs import run_name
from flows.pipeline.tasks import current_run_id, locked
from flows.warehouse.database import Warehouse, ingest_run_as_dict


def ingest_runs_artifact(landed: list[dict]) -> None:
    """The table artifact of a run's landing: one row per CRM object (API calls, rows received,
    inserted, updated and deleted, retries, duration). The nightly and ``salesops run ingest``
    publish the same one."""
    create_table_artifact(
        key="ingest-runs",
        table=[{k: v for k, v in r.items() if k not in ("started_at", "finished_at")} for r in landed],
        description="Rows and API calls per CRM object",
    )


@flow(name="salesops-ingest", flow_run_name=run_name("ingest", "source"), log_prints=True)
def ingest_flow(
    source: str,
    objects: list[str] | None = None,
    full_refresh: bool = False,
    since: datetime | None = None,
) -> list[dict]:
    """Land one CRM's objects (all, or ``objects``) into raw.*: the operator's ``salesops run
    ingest``. Incremental from the stored cursors unless ``full_refresh``; ``since`` (an aware
    instant) re-reads what changed since then. Rows land in ``ops.ingest_runs`` under this flow
    run's id, and the run carries the nightly's ``ingest-runs`` table artifact. Pages landed are
    progress events (:mod:`flows.pipeline.progress`)."""
    route_project_logs()
    settings = get_settings()
    settings.ensure_dirs()
    (connector,) = build_connectors(settings, [source])
    try:
        # one writer of the working warehouse: refused (naming the holder) while a nightly runs
        with locked(settings, f"ingest {source}", settings.run_lock_wait_seconds):
            runs = ingest_source(
                connector,
                Warehouse(settings.warehouse_path),
                run_id=current_run_id(),
                objects=objects,
                full_refresh=full_refresh,
                since=since,
                progress=ingest_page,
                batch=BatchLimits.of(settings),
            )
    except IngestError as failure:  # the run in Prefect still shows what landed, and what failed
        ingest_runs_artifact([ingest_run_as_dict(r) for r in failure.runs])
        raise
    finally:
        connector.close()
    landed = [ingest_run_as_dict(r) for r in runs]
    ingest_runs_artifact(landed)
    return landed
