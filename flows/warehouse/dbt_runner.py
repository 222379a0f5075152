"""Run dbt in-process against the warehouse.

dbt runs in this process through dbt's own ``dbtRunner``. Inside a Prefect flow the per-node
results (status, time, message) become a table artifact of the calling task, failures first; with
``SALESOPS_DBT_TASK_PER_NODE=true`` dbt is driven through ``prefect_dbt.PrefectDbtRunner``
instead, one Prefect task per node. That is finer in the UI but costs a task run (and its API
calls) per node: measured on the demo's 430 nodes, 105-114 s instead of 27 s, which is most of a
nightly run. Either way the caller must not hold a DuckDB connection to the warehouse while dbt
runs (DuckDB allows one writer; ``flows.warehouse.database.Warehouse.connect`` is a context manager for
that reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flows.config.settings import Settings, patched_environ
from flows.warehouse.duckdb_limits import dbt_environment


class DbtError(RuntimeError):
    """dbt failed; the message lists the failing nodes and dbt's own message for each."""


@dataclass
class NodeResult:
    unique_id: str
    name: str
    resource_type: str
    status: str
    message: str | None
    execution_time: float


@dataclass
class DbtRunResult:
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]

    @property
    def models_built(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.resource_type == "model" and n.status == "success"]

    def describe_failures(self) -> str:
        return "; ".join(f"{n.resource_type} {n.name}: {n.status} ({n.message})" for n in self.failures)


@contextmanager
def _dbt_environment(settings: Settings, run_date: date | None = None):
    """profiles.yml opens ``$SALESOPS_HOME/warehouse.duckdb``; for dbt that is the *working* file.

    dbt builds into ``<home>/work/warehouse.duckdb`` (the pipeline's private file); readers only
    ever see the published copy that :mod:`flows.warehouse.publish` swaps in after the gate.
    The run date goes in ``SALESOPS_RUN_DATE`` rather than ``--vars``: dbt re-parses the whole
    project when ``--vars`` differ from its last parse, which a new date each night would force
    (``macros/run_date.sql`` reads it while executing only). DuckDB's memory limit, threads and
    spill directory go in the environment too: profiles.yml opens the file with the same
    configuration as every other opener in this process (:mod:`flows.warehouse.duckdb_limits`).
    """
    # DBT_USE_COLORS: dbt's log lines end up in Prefect logs and artifacts, where ANSI codes are noise.
    env = {
        "SALESOPS_HOME": str(settings.warehouse_path.parent),
        "DBT_USE_COLORS": "false",
        # dbt's anonymous usage events: a network call per command and per model, from a nightly
        # that has nothing to tell anyone (and, offline, a failed flush at every command's end)
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # empty: the macro falls back to today, as without a run date before
        "SALESOPS_RUN_DATE": run_date.isoformat() if run_date is not None else "",
        **dbt_environment(settings),
    }
    with patched_environ(env):
        yield


def _target_dir(command: Sequence[str]) -> str:
    """dbt's artifacts per profile target: a `--target pg` build must not clobber the DuckDB one's."""
    args = list(command)
    if "--target" in args[:-1]:
        return f"dbt_target_{args[args.index('--target') + 1]}"
    return "dbt_target"


def dbt_args(settings: Settings, command: Sequence[str]) -> list[str]:
    project = settings.dbt_project_dir
    args = [
        *command,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(settings.home_dir / _target_dir(command)),
        "--log-path",
        str(settings.home_dir / "logs"),
    ]
    # The same --vars on every command (freshness, docs, run-operation too): a command with other
    # --vars than the previous one makes dbt re-parse the whole project instead of partially.
    # The run date is not among them: it goes in the environment (_dbt_environment).
    return [*args, "--vars", f"{{reporting_currency: '{settings.reporting_currency}'}}"]


def run_dbt(
    settings: Settings,
    command: Sequence[str] = ("build",),
    *,
    run_date: date | None = None,
    in_prefect: bool = False,
    raise_on_failure: bool = True,
    callbacks: Sequence[Callable[[Any], None]] = (),
) -> DbtRunResult:
    """Invoke dbt (``build`` by default) and return per-node results; raise DbtError on failure.

    ``callbacks`` get dbt's structured events as they happen (progress displays count finished nodes).
    """
    args = dbt_args(settings, command)
    with _dbt_environment(settings, run_date):
        if in_prefect and settings.dbt_task_per_node:
            from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

            runner = PrefectDbtRunner(
                settings=PrefectDbtSettings(
                    project_dir=settings.dbt_project_dir,
                    profiles_dir=settings.dbt_project_dir,
                    target_path=settings.home_dir / "dbt_target",
                ),
                raise_on_failure=False,
            )
            res = runner.invoke(args)
        else:
            from dbt.cli.main import dbtRunner

            res = dbtRunner(callbacks=list(callbacks)).invoke(args)
        _release_duckdb_file()
    result = _to_result(res)
    if in_prefect and not settings.dbt_task_per_node:
        _nodes_artifact(command, result)
    if raise_on_failure and not result.success:
        detail = result.describe_failures() or (str(res.exception) if res.exception else "unknown error")
        raise DbtError(f"dbt {' '.join(command)} failed: {detail}")
    return result


def _release_duckdb_file() -> None:
    """Close the DuckDB file dbt-duckdb keeps open between invocations.

    dbt-duckdb keeps its database handle open after ``dbt build`` (its ``keep_open`` credential
    defaults to true), so the process kept the work warehouse's file lock after the flow released
    the run lock, and the next salesops process (the weekly report after the monthly close) failed
    on DuckDB's "Could not set lock on file". The run lock is only honest if the file is closed
    before it is released, so every invocation closes it; the next one opens it again (cheap).
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV  # the adapter offers no public handle on it
    DuckDBConnectionManager.close_all_connections()
    if env is not None:
        env.close()


def _nodes_artifact(command: Sequence[str], result: DbtRunResult) -> None:
    """The dbt nodes of this invocation as a Prefect table artifact: failures first, then slowest."""
    from prefect.artifacts import create_table_artifact

    order = {"error": 0, "fail": 0, "runtime error": 0, "warn": 1}
    nodes = sorted(result.nodes, key=lambda n: (order.get(n.status, 2), -n.execution_time))
    counts: dict[str, int] = {}
    for n in result.nodes:
        counts[n.status] = counts.get(n.status, 0) + 1
    create_table_artifact(
        key="dbt-nodes",
        table=[
            {
                "node": n.name,
                "type": n.resource_type,
                "status": n.status,
                "seconds": round(n.execution_time, 2),
                "message": (n.message or "")[:300],
            }
            for n in nodes
        ],
        description=f"dbt {' '.join(command)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + " (failures first, then slowest)",
    )


def _to_result(res) -> DbtRunResult:
    nodes: list[NodeResult] = []
    for r in getattr(res.result, "results", None) or []:
        node = getattr(r, "node", None)
        if node is None:  # run-operation: one result for the macro, no node
            continue
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(r.status),
                message=r.message,
                execution_time=float(r.execution_time or 0.0),
            )
        )
    return DbtRunResult(success=bool(res.success), nodes=nodes)


def mart_row_counts(conn, schema: str = "marts") -> dict[str, int]:
    """Rows per table of a schema: what the summary and the Prefect artifact report."""
    tables = conn.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
    ).fetchall()
    return {t: conn.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0] for (t,) in tables}
