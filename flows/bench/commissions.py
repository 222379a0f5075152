"""The commission engine vs its set-based baseline, on a copy of the full nightly's warehouse.

The engine side is what the nightly runs (:func:`flows.commissions.ledger.run_engine`: read the
credits dbt built, calculate, write ``finance.commission_lines``); the baseline is one DuckDB query
(:mod:`flows.bench.setbased`) writing its totals. Both read the same views of the same file, each in
its own process. The ratio is reported only when both pay the same lines: same number of lines and
same total, to the cent, per plan version and component.
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
    from flows.bench.setbased import baseline_sql
    from flows.config.commission_plan import load_plan_file
    from flows.config.settings import get_settings
    from flows.warehouse.database import Warehouse

    os.environ["SALESOPS_HOME"] = home
    settings = get_settings()
    book = load_plan_file(Path(settings.config_path) / "commission_plan.yml")
    with Warehouse(settings.warehouse_path).connect() as conn:
        conn.execute(f"create or replace table main.bench_setbased_commissions as {baseline_sql(book)}")
        rows = conn.execute(
            "select * from main.bench_setbased_commissions where lines > 0 order by all"
        ).fetchall()
    return {"totals": _totals(rows)}


def measure_commissions(env: dict[str, str], home: Path, run_date: date) -> Row:
    engine = in_child("engine (run_engine)", env, engine_side, str(home), run_date.isoformat())
    baseline = in_child("set-based SQL", env, baseline_side, str(home))
    ours, theirs = engine.result["totals"], baseline.result["totals"]
    if ours != theirs:
        raise AssertionError(
            f"the engine's commission lines {ours} differ from the set-based baseline's {theirs}"
        )
    lines = sum(n for n, _ in ours.values())
    paid = sum(Decimal(t) for _, t in ours.values())
    return Row(
        "commission engine vs set-based baseline",
        engine,
        baseline,
        figure=f"both pay {lines:,} commission lines, {paid:,} in all (equal per plan version and component)",
        ratio=engine.wall_s / baseline.wall_s if baseline.wall_s else None,
        ratio_means="engine wall ÷ baseline wall (target ≤ 2)",
        details={"totals": ours, "ledger_lines": engine.result["ledger_lines"]},
    )
