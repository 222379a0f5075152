"""The Prefect global concurrency limit ``salesops-warehouse``: one deployed writer of the work warehouse.

The file run lock (:mod:`flows.warehouse.runlock`) already keeps two writers apart, but a run that
waits for it looks like any running flow in Prefect. Every deployed flow that writes the work
warehouse (nightly, weekly, monthly, ingest, and so backfills through the nightly) first takes one
slot of this limit (limit 1, created by ``salesops deploy``): the waiting run logs that it waits and
for what, the limit shows its holder's slot in the UI and the API (Concurrency page), and Prefect
frees the slot of a crashed holder when its lease runs out (5 minutes). Only runs of a deployment
take it: a local ``salesops`` command runs on a temporary Prefect server where the limit does not
exist, and relies on the file lock alone (no wait, no warning). docs/operations.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from flows.config.settings import Settings
from flows.pipeline.summary import StepFailed

#: The limit's name, as ``salesops deploy`` creates it and the flows acquire it.
WAREHOUSE_LIMIT = "salesops-warehouse"
#: One writer of the work warehouse at a time.
WAREHOUSE_LIMIT_SLOTS = 1

log = logging.getLogger("salesops")


def _deployment_id() -> str | None:
    """The deployment of the current flow run (None outside one, or for a run started by hand)."""
    from prefect.context import FlowRunContext

    run = getattr(FlowRunContext.get(), "flow_run", None)
    return str(run.deployment_id) if run is not None and run.deployment_id else None


def _occupied() -> int:
    """Slots of the limit held now (0 when it cannot be read): only to say why a run waits."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(WAREHOUSE_LIMIT).active_slots
    except Exception:
        return 0


@contextlib.contextmanager
def warehouse_slot(settings: Settings, flow_name: str) -> Iterator[None]:
    """Hold a slot of ``salesops-warehouse`` for the block when this run belongs to a deployment.

    Waits up to ``SALESOPS_WAREHOUSE_LIMIT_WAIT_SECONDS``, then fails as step 'lock' naming the
    limit. When the limit was never created (deployed without ``salesops deploy``), Prefect logs
    that it does not exist and the run goes on under the file lock alone.
    """
    if _deployment_id() is None:
        yield
        return
    from prefect.concurrency.sync import concurrency

    if _occupied() >= WAREHOUSE_LIMIT_SLOTS:
        log.warning(
            "%s waits for the Prefect global concurrency limit %s: another salesops run writes the work "
            "warehouse (up to %g s)",
            flow_name,
            WAREHOUSE_LIMIT,
            settings.warehouse_limit_wait_seconds,
        )
    held = contextlib.ExitStack()
    try:
        held.enter_context(
            concurrency(WAREHOUSE_LIMIT, occupy=1, timeout_seconds=settings.warehouse_limit_wait_seconds)
        )
    except TimeoutError as exc:
        raise StepFailed(
            "lock",
            flow_name,
            f"the Prefect global concurrency limit {WAREHOUSE_LIMIT} stayed taken for "
            f"{settings.warehouse_limit_wait_seconds:g} s (SALESOPS_WAREHOUSE_LIMIT_WAIT_SECONDS): another "
            "salesops run writes the work warehouse",
        ) from exc
    log.info("%s holds the Prefect global concurrency limit %s", flow_name, WAREHOUSE_LIMIT)
    with held:  # the slot is released after the block, also when it fails
        yield
