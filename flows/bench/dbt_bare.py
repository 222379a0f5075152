"""``dbt run`` vs the same compiled SQL run bare in DuckDB, and the gate vs ``dbt test``.

Both start from copies of the full nightly's working warehouse. ``dbt run`` runs in-process as the
nightly runs it (:func:`flows.warehouse.dbt_runner.run_dbt`); the bare side then takes every
model's compiled SQL from that run's ``target/compiled`` and executes ``create or replace view|table
<relation> as <compiled SQL>`` with the ``duckdb`` module, in the order dbt finished the models
(a valid dependency order), on another copy: the same SQL without dbt's parsing, graph, adapters,
renames and bookkeeping. An incremental model is rebuilt whole on the bare side.
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
    import duckdb

    target_dir = Path(target)
    manifest = json.loads((target_dir / "manifest.json").read_text())["nodes"]
    order = [r["unique_id"] for r in json.loads((target_dir / "run_results.json").read_text())["results"]]
    conn = duckdb.connect(str(Path(home) / "work" / "warehouse.duckdb"))
    done = 0
    try:
        for uid in order:
            node = manifest[uid]
            if node["resource_type"] != "model":
                continue
            kind = "view" if node["config"]["materialized"] == "view" else "table"
            sql = (target_dir / "compiled" / node["package_name"] / node["original_file_path"]).read_text()
            conn.execute(f"create or replace {kind} {node['relation_name']} as (\n{sql}\n)")
            done += 1
    finally:
        conn.close()
    return {"models": done}


def measure_dbt_run(env: dict[str, str], source_db: Path, workdir: Path, run_date: date) -> Row:
    dbt_home = copy_home(source_db, workdir / "dbt-run")
    bare_home = copy_home(source_db, workdir / "dbt-bare")
    dbt = in_child("dbt run", env, dbt_side, str(dbt_home), ["run"], run_date.isoformat())
    if dbt.result["failed"]:
        raise RuntimeError(f"dbt run failed: {dbt.result['failed'][:5]}")
    bare = in_child("bare DuckDB", env, bare_side, str(bare_home), str(dbt_home / "dbt_target"))
    return Row(
        "dbt run vs its compiled SQL run bare in DuckDB",
        dbt,
        bare,
        figure=f"{bare.result['models']} models",
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
