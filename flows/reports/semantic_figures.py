"""The manager report's won revenue and win rate, read from the semantic layer where they are defined.

The metrics ``won_revenue``, ``deals_won``, ``deals_lost`` and ``win_rate`` are defined once, in
dbt_project/models/semantic/ (docs/semantic_layer.md); MetricFlow compiles them into SQL that runs on
the report's own connection (:mod:`flows.semantic.metrics`). The month's figures per rep replace the
scorecard columns of the same names on the report's rep rows, so the report, ``mf query`` and a BI
tool on the semantic layer show one number (tests/dbt/test_semantic_layer.py checks that both
sources agree). Without the nightly's semantic manifest (a warehouse that dbt did not build, such as
the report tests' hand-made marts) the scorecard's columns stay, and the log says so.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import duckdb

from flows.config.settings import Settings
from flows.semantic.metrics import SemanticLayer, as_decimal, manifest_path

log = logging.getLogger(__name__)

METRICS = ("won_revenue", "deals_won", "deals_lost", "win_rate")


def month_figures(conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict[str, dict] | None:
    """Each rep's won revenue, deals won / lost and win rate of ``as_of``'s month; None without a manifest."""
    path = manifest_path(settings)
    if not path.is_file():
        log.info("no semantic manifest at %s: manager report figures from fct_rep_scorecard", path)
        return None
    layer = SemanticLayer.for_connection(path, conn)
    month = as_of.replace(day=1).isoformat()
    result = layer.query(
        conn,
        METRICS,
        ["rep", "metric_time__month"],
        [f"{{{{ TimeDimension('metric_time', 'month') }}}} = '{month}'"],
    )
    return {row["rep"]: row for row in result.rows if row["rep"] is not None}


def apply_month_figures(reps: list[dict], figures: dict[str, dict] | None) -> None:
    """Set the semantic layer's figures on the rep rows that have numbers this month (a scorecard row).

    A rep with a scorecard row but no closed deal gets 0 won and no win rate, as the scorecard has it.
    """
    if figures is None:
        return
    for r in reps:
        got = figures.get(r["rep_id"])
        if got is None and r["won_amount"] is None:
            continue  # no numbers this month at all
        got = got or {}
        r["won_amount"] = as_decimal(got.get("won_revenue")) or Decimal(0)
        r["deals_won"] = int(got.get("deals_won") or 0)
        r["deals_lost"] = int(got.get("deals_lost") or 0)
        r["win_rate"] = as_decimal(got.get("win_rate"))
