"""The nightly (and monthly) commission step: engine, dbt rebuild downstream, reconciliation."""

from __future__ import annotations

from datetime import date

from flows.commissions.ledger import run_engine
from flows.commissions.reconcile import ReconciliationError, reconcile

#: what dbt must rebuild after the engine wrote ``finance.commission_lines``
DBT_SELECT_AFTER_ENGINE = "fct_commissions+ fct_commission_warnings"


def refresh_commissions(settings, run_date: date, *, in_prefect: bool = False) -> int:
    """The nightly (and monthly) commission step, to call right after ``dbt build`` and before
    the marts data gate: run the engine over the credits dbt just built, rebuild
    ``fct_commissions`` and everything downstream of it, then run :func:`reconcile` and raise
    :class:`ReconciliationError` naming what does not add up. Returns the number of ledger lines."""
    from flows.warehouse.database import Warehouse
    from flows.warehouse.dbt_runner import run_dbt

    with Warehouse(settings.warehouse_path).connect() as conn:
        count = run_engine(conn, settings, run_date)
    run_dbt(
        settings, ["build", "--select", DBT_SELECT_AFTER_ENGINE], run_date=run_date, in_prefect=in_prefect
    )
    with Warehouse(settings.warehouse_path).connect() as conn:
        failures = reconcile(conn)
    if failures:
        shown = "; ".join(failures[:5]) + (f"; ... ({len(failures)} in all)" if len(failures) > 5 else "")
        raise ReconciliationError(f"commissions do not reconcile: {shown}")
    return count
