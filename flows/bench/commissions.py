"""The commission engine vs its set-based baseline, on a copy of the full nightly's warehouse.

The engine side is what the nightly runs (:func:`flows.commissions.ledger.run_engine`: read the
credits dbt built, calculate, write ``finance.commission_lines``); the baseline is one DuckDB query
(:mod:`flows.bench.setbased`) writing the same ``commission`` lines, every column, to a table of
the same column types. Both read the same tables of the same file, each in its own process. The
ratio is reported only when both wrote the same lines: the two tables' ``commission`` rows equal as
multisets (``except all`` both ways, every column of the ledger but the run's date and time),
checked in a third process after both are timed.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from flows.bench.isolation import in_child
from flows.bench.table import Row


def _totals(rows: list[tuple]) -> dict[str, list[str]]:
    return {f"{p}:v{v}:{c}": [int(n), str(Decimal(t or 0))] for p, v, c, n, t in rows}


def engine_side(home: str, run_date: str) -> dict[str, Any]:
    from flows.commissions.ledger import run_engine
    from flows.config.settings import get_settings
    from flows.warehouse.database import Warehouse

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    with Warehouse(settings.warehouse_path).connect() as conn:
        lines = run_engine(conn, settings, date.fromisoformat(run_date))
        rows = conn.execute(
            "select plan_id, plan_version, component, count(*), sum(commission_amount) "
            "from finance.commission_lines where line_type = 'commission' group by all order by all"
        ).fetchall()
    return {"ledger_lines": lines, "totals": _totals(rows)}


def baseline_side(home: str) -> dict[str, Any]:
    from flows.bench.setbased import TABLE, baseline_sql
    from flows.commissions.tables import line_columns_ddl
    from flows.config.commission_plan import load_plan_file
    from flows.config.settings import get_settings
    from flows.warehouse.database import Warehouse

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    book = load_plan_file(Path(settings.config_path) / "commission_plan.yml")
    # what the nightly's engine is given: a line is in the reporting currency when one is set,
    # else in its own plan's (flows.commissions.engine._plan_lines; baseline_sql does the same)
    currency = getattr(settings, "reporting_currency", None)
    with Warehouse(settings.warehouse_path).connect() as conn:
        conn.execute(f"create or replace table {TABLE} ({line_columns_ddl()})")
        conn.execute(f"insert into {TABLE} {baseline_sql(book, currency)}")
        (lines,) = conn.execute(f"select count(*) from {TABLE}").fetchone()
    return {"lines": lines}


def compare_side(home: str) -> dict[str, Any]:
    """The engine's ``commission`` lines and the baseline's, as multisets: the rows only one has."""
    from flows.bench.setbased import TABLE
    from flows.commissions.lines import LINE_COLUMNS
    from flows.config.settings import get_settings
    from flows.warehouse.database import Warehouse

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    columns = ", ".join(LINE_COLUMNS)
    ours = f"select {columns} from finance.commission_lines where line_type = 'commission'"
    theirs = f"select {columns} from {TABLE}"
    found: dict[str, Any] = {"differ": 0}
    with Warehouse(settings.warehouse_path).connect() as conn:
        # each difference computed once, kept in a temp table for its count and its first rows
        for side, query in (("only_engine", f"{ours} except all {theirs}"),
                            ("only_baseline", f"{theirs} except all {ours}")):  # fmt: skip
            conn.execute(f"create temp table _bench_{side} as {query}")
            (n,) = conn.execute(f"select count(*) from _bench_{side}").fetchone()
            rows = conn.execute(f"select * from _bench_{side} order by all limit 3").fetchall()
            found["differ"] += n
            found[side] = [str(r) for r in rows]
    return found


def measure_commissions(env: dict[str, str], home: Path, run_date: date) -> Row:
    engine = in_child("engine (run_engine)", env, engine_side, str(home), run_date.isoformat())
    baseline = in_child("set-based SQL", env, baseline_side, str(home))
    same = in_child("comparison", env, compare_side, str(home)).result
    if same["differ"]:
        raise AssertionError(
            f"{same['differ']:,} commission lines differ between the engine and the set-based baseline; "
            f"only the engine's (first 3): {same['only_engine']}; "
            f"only the baseline's: {same['only_baseline']}"
        )
    ours = engine.result["totals"]
    lines = sum(n for n, _ in ours.values())
    paid = sum(Decimal(t) for _, t in ours.values())
    return Row(
        "commission engine vs set-based baseline",
        engine,
        baseline,
        figure=f"both write the same {lines:,} commission lines, {paid:,} in all "
        "(every column, explanation included)",
        ratio=engine.wall_s / baseline.wall_s if baseline.wall_s else None,
        ratio_means="engine wall ÷ baseline wall (target ≤ 2)",
        details={"totals": ours, "ledger_lines": engine.result["ledger_lines"]},
    )
