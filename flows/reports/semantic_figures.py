"""The manager report's numbers, read from the semantic layer where they are defined.

Won revenue, deals won / lost, win rate, target, attainment, pace and target to date, open and
weighted pipeline, the gap to target and coverage are metrics defined once, in
dbt_project/models/semantic/ (docs/semantic_layer.md); MetricFlow compiles them into SQL that runs on
the report's own connection (:mod:`flows.semantic.metrics`). Each rep's figures replace the scorecard
columns on the report's rep rows, and the team rows are the same metrics over the team's reps (a
ratio of sums, as MetricFlow computes it, never an average of the reps' ratios), so the report,
``mf query`` and a BI tool on the semantic layer show one number (tests/dbt/test_semantic_layer.py).
The month's deal figures are as of the report date (deals closed after it, which a report for a past
date sees in the data, are not counted), and attainment is that won amount over the whole month's
target.
Without the nightly's semantic manifest (a warehouse that dbt did not build, such as the report
tests' hand-made marts) :mod:`flows.reports.manager_figures` computes them from the scorecard, and the
log says so.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb

from flows.config.settings import Settings
from flows.semantic.metrics import SemanticLayer, as_decimal, manifest_path

log = logging.getLogger(__name__)

# metric -> the report's key (the scorecard's column name where there is one)
# the deals closed in the month up to the report date (a report for a past date counts none after it)
DEAL_METRICS = {
    "won_revenue": "won_amount",
    "deals_won": "deals_won",
    "deals_lost": "deals_lost",
    "win_rate": "win_rate",
}
# the whole month's target (a day filter would cut it to the target to date)
TARGET_METRICS = {"target": "target_amount"}
MONTH_METRICS = DEAL_METRICS | TARGET_METRICS
PIPELINE_METRICS = {
    "open_pipeline": "open_pipeline_amount",
    "weighted_pipeline": "weighted_pipeline_amount",
    "target_gap": "gap",
    "coverage": "coverage",
}
TO_DATE_METRICS = {"target_mtd": "target_to_date", "pace": "pace"}
# a sum that is 0, not unknown, when the rep or team has no row (no deal closed, nothing open)
ZERO_WHEN_MISSING = {"won_amount", "open_pipeline_amount", "weighted_pipeline_amount"}


def _month_where(as_of: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'month') }}}} = '{as_of.replace(day=1).isoformat()}'"


def _day_where(as_of: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} = '{as_of.isoformat()}'"


def _by_day_where(as_of: date) -> str:
    return f"{{{{ TimeDimension('metric_time', 'day') }}}} <= '{as_of.isoformat()}'"


def _with_attainment(figures: dict) -> dict:
    """``attainment`` = won to date / the month's target: the ``attainment`` metric's ratio (won_revenue
    / target) with the won revenue as of the report date. MetricFlow cannot filter one side of a ratio,
    and filtering both would divide by the target to date, which is pace."""
    won, target = figures.get("won_amount"), figures.get("target_amount")
    figures["attainment"] = None if won is None or not target else won / target
    return figures


def _reps_where(rep_ids: Sequence[str]) -> str:
    quoted = ", ".join("'" + rep_id.replace("'", "''") + "'" for rep_id in sorted(rep_ids))
    return f"{{{{ Entity('rep') }}}} in ({quoted})"


def _renamed(row: dict, names: dict[str, str]) -> dict:
    out: dict = {}
    for metric, key in names.items():
        value = as_decimal(row.get(metric))
        if key in ("deals_won", "deals_lost"):
            out[key] = int(value or 0)
        elif value is None and key in ZERO_WHEN_MISSING:
            out[key] = Decimal(0)
        else:
            out[key] = value
    return out


@dataclass
class SemanticFigures:
    """The semantic layer on the report's connection, for one report date, and its per-rep figures."""

    layer: SemanticLayer
    conn: duckdb.DuckDBPyConnection
    as_of: date
    reps: dict[str, dict]

    def _by_rep(self, metrics: dict[str, str], grain: str, *where: str) -> dict[str, dict]:
        result = self.layer.query(self.conn, list(metrics), ["rep", grain], list(where))
        return {row["rep"]: _renamed(row, metrics) for row in result.rows if row["rep"] is not None}

    def _over(self, metrics: dict[str, str], rep_ids: Sequence[str], grain: str, *where: str) -> dict:
        """The metrics computed once over ``rep_ids`` together (MetricFlow sums, then divides)."""
        rows = []
        if rep_ids:
            rows = self.layer.query(self.conn, list(metrics), [grain], [*where, _reps_where(rep_ids)]).rows
        return _renamed(rows[0] if rows else {}, metrics)

    def team(self, shown: Sequence[str], active: Sequence[str]) -> dict:
        """The team rows: attainment and pace over every rep shown, pipeline over the reps still in it."""
        month, day, by_day = _month_where(self.as_of), _day_where(self.as_of), _by_day_where(self.as_of)
        return _with_attainment(
            self._over(DEAL_METRICS, shown, "metric_time__month", month, by_day)
            | self._over(TARGET_METRICS, shown, "metric_time__month", month)
            | self._over(TO_DATE_METRICS, shown, "metric_time__day", day)
            | self._over(PIPELINE_METRICS, active, "metric_time__month", month)
        )


def month_figures(conn: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> SemanticFigures | None:
    """Every rep's figures of ``as_of``'s month as of that day: won, deals and win rate over the deals
    closed by then, attainment against the month's target, pace and target to date; the pipeline
    figures as far as the data goes (open deals are not kept per day).

    None without a semantic manifest (the caller then computes them from the scorecard).
    """
    path = manifest_path(settings)
    if not path.is_file():
        log.info("no semantic manifest at %s: manager report figures from fct_rep_scorecard", path)
        return None
    figures = SemanticFigures(SemanticLayer.for_connection(path, conn), conn, as_of, {})
    month_where = _month_where(as_of)
    deals = figures._by_rep(DEAL_METRICS, "metric_time__month", month_where, _by_day_where(as_of))
    month = figures._by_rep(TARGET_METRICS | PIPELINE_METRICS, "metric_time__month", month_where)
    to_date = figures._by_rep(TO_DATE_METRICS, "metric_time__day", _day_where(as_of))
    empty = _renamed({}, MONTH_METRICS | PIPELINE_METRICS | TO_DATE_METRICS)
    for rep_id in deals.keys() | month.keys() | to_date.keys():
        got = empty | deals.get(rep_id, {}) | month.get(rep_id, {}) | to_date.get(rep_id, {})
        figures.reps[rep_id] = _with_attainment(got)
    return figures


def apply_month_figures(reps: list[dict], figures: SemanticFigures | None) -> None:
    """Set the semantic layer's figures on the rep rows that have numbers this month (a scorecard row).

    A rep with a scorecard row but no metric row gets 0 won and no ratios, as the scorecard has it.
    """
    if figures is None:
        return
    empty = _with_attainment(_renamed({}, MONTH_METRICS | PIPELINE_METRICS | TO_DATE_METRICS))
    for r in reps:
        got = figures.reps.get(r["rep_id"])
        if got is None and r["won_amount"] is None:
            continue  # no numbers this month at all
        r.update(got or empty)
    # best attainment first, as the scorecard's order had it for the whole month
    reps.sort(key=lambda r: (r["attainment"] is None, -(r["attainment"] or 0), r["rep_name"] or ""))
