"""The nightly (and monthly) commission step: engine, dbt rebuild downstream, reconciliation.

Run order rule ("yesterday's state never blocks today's run"): the first ``dbt build`` of a run
leaves out everything that reads the engine's ledger (:data:`ENGINE_OUTPUTS`: ``fct_commissions``,
``fct_commission_statements`` and their tests); the engine then recalculates from today's credits
and only then are those marts built and tested. Yesterday's lines are never tested against
today's deals, so a deal deleted in the CRM becomes a clawback (when it was paid in a closed
period) or drops out of its open period, instead of failing a relationship test before the engine
could react. docs/faults.md explains the rule.
"""

from __future__ import annotations

from datetime import date

from flows.commissions.ledger import run_engine
from flows.commissions.reconcile import ReconciliationError, reconcile

#: every dbt node that reads the engine's ledger (``finance.*``), with its tests
ENGINE_OUTPUTS = "source:commissions_engine+ source:commission_engine_warnings+"
#: what dbt must rebuild after the engine wrote ``finance.commission_lines``
DBT_SELECT_AFTER_ENGINE = ENGINE_OUTPUTS
#: The nightly's builds leave dbt's unit tests out. Their inputs are fixtures in the YAML, the same
#: every night, so they test the SQL, not the night's data: dbt Labs "strongly recommends only
#: running unit tests in development or CI environments" (docs.getdbt.com, "Unit tests", "When to
#: run unit tests"). They run in `make test` (tests/warehouse/test_published_marts.py on DuckDB,
#: the PostgreSQL and Spark builds) and by hand with ``dbt test --select test_type:unit``; the 31 of
#: them took ~6 s of every nightly's build whatever its size.
NIGHTLY_EXCLUDES = ("--exclude-resource-type", "unit_test")


def build_before_engine(*select: str, full_refresh: bool = False) -> list[str]:
    """The ``dbt build`` arguments of a run's first build: ``select`` (default: everything) minus
    :data:`ENGINE_OUTPUTS`, which :func:`refresh_commissions` builds once the engine ran.

    The two selections are disjoint, tests included, so each dbt test runs once a night; neither
    runs dbt's unit tests (:data:`NIGHTLY_EXCLUDES`).
    ``full_refresh`` rebuilds the incremental models (the large staging tables) from raw instead
    of merging in what was landed since their last build (docs/dbt.md, "Incremental staging").
    """
    refresh = ["--full-refresh"] if full_refresh else []
    select_args = ["--select", *select] if select else []
    return ["build", *select_args, "--exclude", ENGINE_OUTPUTS, *NIGHTLY_EXCLUDES, *refresh]


def refresh_commissions(settings, run_date: date, *, in_prefect: bool = False) -> int:
    """The nightly (and monthly) commission step, to call right after the first ``dbt build``
    (:func:`build_before_engine`) and before the marts data gate: run the engine over the credits
    dbt just built, build ``fct_commissions`` and everything downstream of it with their tests,
    then run :func:`reconcile` and raise :class:`ReconciliationError` naming what does not add
    up. Returns the number of ledger lines."""
    from flows.warehouse.database import Warehouse
    from flows.warehouse.dbt_runner import run_dbt

    with Warehouse(settings.warehouse_path).connect() as conn:
        count = run_engine(conn, settings, run_date)
    # --no-write-json: the first build's manifest, semantic manifest and run results stay; writing
    # the manifest again (twice: after parsing and at the end) was seconds of JSON per night
    build = ["build", "--select", DBT_SELECT_AFTER_ENGINE, *NIGHTLY_EXCLUDES, "--no-write-json"]
    run_dbt(settings, build, run_date=run_date, in_prefect=in_prefect)
    with Warehouse(settings.warehouse_path).connect() as conn:
        failures = reconcile(conn)
    if failures:
        shown = "; ".join(failures[:5]) + (f"; ... ({len(failures)} in all)" if len(failures) > 5 else "")
        raise ReconciliationError(f"commissions do not reconcile: {shown}")
    return count
