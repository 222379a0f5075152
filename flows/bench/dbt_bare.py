"""``dbt run`` vs the same compiled SQL run bare in DuckDB, and the gate vs ``dbt test``.

Both start from copies of the full nightly's working warehouse. ``dbt run`` runs in-process as the
nightly runs it (:func:`flows.warehouse.dbt_runner.run_dbt`); the bare side then takes every
model's compiled SQL from that run's ``target/compiled`` and executes ``create or replace view|table
<relation> as <compiled SQL>`` with the ``duckdb`` module, in the order dbt finished the models
(a valid dependency order), on another copy: the same SQL without dbt's parsing, graph, adapters,
renames and bookkeeping. An incremental model's compiled SQL selects the rows that run merged, and
is merged as dbt-duckdb's strategy merges it (:func:`bare_statements`). The dbt side
parses partially, as in the nightly: a ``dbt parse`` in its home first leaves the parse state the
nightly's build finds from the dbt command before it (not timed; its time is in the figure).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from flows.bench.isolation import in_child
from flows.bench.table import Row


def copy_home(source_db: Path, home: Path) -> Path:
    """A home whose working warehouse is a copy of ``source_db``; returns the home."""
    shutil.rmtree(home, ignore_errors=True)
    (home / "work").mkdir(parents=True)
    shutil.copy2(source_db, home / "work" / "warehouse.duckdb")
    return home


def dbt_side(home: str, command: list[str], run_date: str) -> dict[str, Any]:
    from flows.config.settings import get_settings
    from flows.warehouse.dbt_runner import run_dbt

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    result = run_dbt(settings, command, run_date=date.fromisoformat(run_date), raise_on_failure=False)
    failed = [f"{n.resource_type} {n.name}: {n.status}" for n in result.failures]
    return {"nodes": len(result.nodes), "failed": failed}


def bare_side(home: str, target: str) -> dict[str, Any]:
    """Every model of the dbt run in ``target`` (its manifest and run_results), executed bare."""
    from flows.config.settings import get_settings
    from flows.warehouse import duckdb_limits

    target_dir = Path(target)
    manifest = json.loads((target_dir / "manifest.json").read_text())["nodes"]
    order = [r["unique_id"] for r in json.loads((target_dir / "run_results.json").read_text())["results"]]
    # dbt's memory limit, threads and spill directory, so that the two sides are compared like for like
    conn = duckdb_limits.connect(Path(home) / "work" / "warehouse.duckdb", get_settings(home=home))
    done = 0
    try:
        for uid in order:
            node = manifest[uid]
            if node["resource_type"] != "model":
                continue
            sql = (target_dir / "compiled" / node["package_name"] / node["original_file_path"]).read_text()
            exists = _is_table(conn, node["schema"], node["alias"])
            for statement in bare_statements(node["config"], node["relation_name"], sql, exists):
                conn.execute(statement)
            done += 1
    finally:
        conn.close()
    return {"models": done}


def _is_table(conn, schema: str, name: str) -> bool:
    found = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchone()
    return bool(found and found[0])


def bare_statements(config: dict[str, Any], relation: str, sql: str, exists: bool) -> list[str]:
    """The SQL that does a model's work as dbt's run did it, without dbt.

    A view or table is created (or replaced) from its compiled SQL. An incremental model's compiled
    SQL is what that run compiled: on a warehouse that already has the model it selects only the
    changed rows (``is_incremental()``; ``exists``: the model is a table already), so it is merged
    the way the model's strategy merges it (delete+insert on the unique key, or append); on a
    warehouse without the table it is a full build. Running it as ``create or replace table`` would
    replace the model with just those rows and leave every model downstream with less data than
    dbt's run had. Hooks (the quarantine and stale-row deletes) are not run: they are Jinja that
    only dbt renders.
    """
    kind = config["materialized"]
    if kind != "incremental" or not exists:
        kind = "view" if kind == "view" else "table"
        return [f"create or replace {kind} {relation} as (\n{sql}\n)"]
    statements = ["create or replace temp table bare_batch as (\n" + sql + "\n)"]
    key = config.get("unique_key")
    if key and config.get("incremental_strategy") == "delete+insert":
        # as dbt-duckdb's delete+insert does it: one key column is a semi join (`in`), a list of
        # columns a `delete ... using` join. A join on one column would match every stored row of
        # a key with every new row of it: fct_pipeline_snapshots is keyed on snapshot_date, so at
        # 1M deals that delete took 266 s where dbt's took 1.6 s (docs/bench.md)
        if isinstance(key, str):
            statements.append(f"delete from {relation} where ({key}) in (select ({key}) from bare_batch)")
        else:
            matched = " and ".join(f"{relation}.{k} = bare_batch.{k}" for k in key)
            statements.append(f"delete from {relation} using bare_batch where {matched}")
    statements.append(f"insert into {relation} by name select * from bare_batch")
    return statements


def measure_dbt_run(env: dict[str, str], source_db: Path, workdir: Path, run_date: date) -> Row:
    dbt_home = copy_home(source_db, workdir / "dbt-run")
    bare_home = copy_home(source_db, workdir / "dbt-bare")
    # Not timed: the parse state a nightly's `dbt build` finds, left by the dbt command before it
    # (that night's source freshness check, the previous night); the run then parses partially.
    parse = in_child("dbt parse", env, dbt_side, str(dbt_home), ["parse"], run_date.isoformat())
    dbt = in_child("dbt run", env, dbt_side, str(dbt_home), ["run"], run_date.isoformat())
    if dbt.result["failed"]:
        raise RuntimeError(f"dbt run failed: {dbt.result['failed'][:5]}")
    bare = in_child("bare DuckDB", env, bare_side, str(bare_home), str(dbt_home / "dbt_target"))
    return Row(
        "dbt run vs its compiled SQL run bare in DuckDB",
        dbt,
        bare,
        figure=f"{bare.result['models']} models; parse state from a `dbt parse` before the run "
        f"(not timed: {parse.wall_s:.1f} s wall, the nightly's previous dbt command does it)",
        ratio=dbt.wall_s / bare.wall_s if bare.wall_s else None,
        ratio_means="dbt wall ÷ bare wall (target ≤ 1.5)",
    )


def gate_side(home: str) -> dict[str, Any]:
    from flows.config.settings import get_settings
    from flows.quality.gate import run_checks
    from flows.warehouse.database import Warehouse

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    checks = 0
    with Warehouse(settings.warehouse_path).connect() as conn:
        for layer in ("raw", "marts"):
            checks += len(run_checks(conn, settings, run_id="bench-gate", layer=layer).results)
    return {"checks": checks}


def measure_gate(env: dict[str, str], source_db: Path, workdir: Path, run_date: date) -> Row:
    gate = in_child("gate (raw + marts)", env, gate_side, str(copy_home(source_db, workdir / "gate")))
    test_home = copy_home(source_db, workdir / "dbt-test")
    in_child("dbt parse", env, dbt_side, str(test_home), ["parse"], run_date.isoformat())  # as for dbt run
    dbt = in_child("dbt test", env, dbt_side, str(test_home), ["test"], run_date.isoformat())
    return Row(
        "data gate vs dbt test",
        gate,
        dbt,
        figure=f"gate: {gate.result['checks']} checks; dbt test: {dbt.result['nodes']} tests"
        + (f", {len(dbt.result['failed'])} failing" if dbt.result["failed"] else ""),
        ratio=gate.wall_s / dbt.wall_s if dbt.wall_s else None,
        ratio_means="gate wall ÷ dbt test wall",
    )
