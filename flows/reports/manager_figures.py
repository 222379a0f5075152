"""The manager report's figures: a row per rep, the team's totals, and pipeline and coverage.

Attainment is shown against the whole month's target and coloured against the target *to date*
(:mod:`flows.reports.pace`), so a rep ahead of pace is not red on the 10th. Reps who have left stay
in the attainment table (their won deals count for the month) but not in pipeline and coverage:
their open deals are nobody's to close. Team figures are recomputed from sums, never averaged.

The numbers come from the semantic layer's metrics (:mod:`flows.reports.semantic_figures`) when the
nightly left a semantic manifest; :func:`team_figures` computes the same definitions here only as the
fallback for a warehouse that dbt did not build (the report tests' hand-made marts). This module
then only formats them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from flows.reports.common import dec
from flows.reports.formatting import Fmt, attainment_color
from flows.reports.pace import add_targets_to_date, pace
from flows.reports.semantic_figures import SemanticFigures

FIGURE_KEYS = ("target_to_date", "pace", "gap", "coverage")


def team_figures(
    conn: duckdb.DuckDBPyConnection, reps: list[dict], as_of: date, semantic: SemanticFigures | None
) -> tuple[str, dict]:
    """Set pace, target to date, gap and coverage on every rep row; the team's figures and the pace basis.

    From the semantic layer when there is one (its team rows: the metrics over the reps shown, and
    over the reps still in the team for pipeline and coverage), else computed here from the rows.
    """
    active = [r for r in reps if not r["has_left"]]
    if semantic is not None:
        for r in reps:
            for key in FIGURE_KEYS:
                r.setdefault(key, None)  # a rep with no numbers this month
        team = semantic.team([r["rep_id"] for r in reps], [r["rep_id"] for r in active])
        return "working_days", team
    basis = add_targets_to_date(conn, reps, as_of)
    for r in reps:
        r["pace"] = pace(r["won_amount"], r["target_to_date"])
        r["gap"] = _gap(r["target_amount"], r["won_amount"])
        r["coverage"] = _coverage(r["open_pipeline_amount"], r["gap"])
    return basis, _python_team(reps, active)


def _python_team(reps: list[dict], active: list[dict]) -> dict:
    """The fallback team figures: every rep shown for attainment, the active ones for pipeline."""
    won = _sum(reps, "won_amount")
    has_target = any(r["target_amount"] is not None for r in reps)
    target = _sum(reps, "target_amount") if has_target else None
    to_date = _sum(reps, "target_to_date") if has_target else None
    deals_won = sum(int(r["deals_won"] or 0) for r in reps)
    deals_lost = sum(int(r["deals_lost"] or 0) for r in reps)
    open_pipeline = _sum(active, "open_pipeline_amount")
    active_won = _sum(active, "won_amount")
    gap = (
        _gap(_sum(active, "target_amount"), active_won)
        if any(r["target_amount"] is not None for r in active)
        else None
    )
    return {
        "won_amount": won,
        "target_amount": target,
        "attainment": won / target if target else None,
        "target_to_date": to_date,
        "pace": pace(won, to_date),
        "deals_won": deals_won,
        "deals_lost": deals_lost,
        "win_rate": Decimal(deals_won) / (deals_won + deals_lost) if deals_won + deals_lost else None,
        "open_pipeline_amount": open_pipeline,
        "weighted_pipeline_amount": _sum(active, "weighted_pipeline_amount"),
        "gap": gap,
        "coverage": _coverage(open_pipeline, gap),
    }


def team_label(manager: dict) -> str:
    """The manager's team name, or "<manager>'s team" when the CRM has none."""
    return manager["team_name"] or f"{manager['rep_name']}'s team"


def rep_row(r: dict, fmt: Fmt) -> dict:
    """One rep's cells for the attainment and the pipeline tables."""
    name = r["rep_name"] or r["rep_id"]
    return {
        "rep_id": r["rep_id"],
        "rep_name": name,
        "has_left": bool(r["has_left"]),
        "label": name + fmt.t("left_marker") if r["has_left"] else name,
        "won": fmt.number(r["won_amount"]),
        "target": fmt.number(r["target_amount"]),
        "attainment": fmt.pct(r["attainment"]),
        "target_to_date": fmt.number(r["target_to_date"]),
        "pace": fmt.pct(r["pace"]),
        "color": _pace_color(r["target_amount"], r["pace"]),
        "deals_won": int(r["deals_won"] or 0),
        "deals_lost": int(r["deals_lost"] or 0),
        "win_rate": fmt.pct(r["win_rate"]),
        "open_pipeline": fmt.number(r["open_pipeline_amount"]),
        "weighted": fmt.number(r["weighted_pipeline_amount"]),
        "gap": fmt.number(r["gap"]),
        "coverage": _coverage_cell(r["coverage"], r["gap"], fmt),
    }


def total_row(team: dict, fmt: Fmt) -> dict:
    """The team's attainment row, every rep shown included (leavers' won deals count for the month)."""
    return {
        "won": fmt.number(team["won_amount"]),
        "target": fmt.number(team["target_amount"]),
        "attainment": fmt.pct(team["attainment"]),
        "attainment_raw": team["attainment"],
        "target_to_date": fmt.number(team["target_to_date"]),
        "target_to_date_raw": team["target_to_date"],
        "target_raw": team["target_amount"],
        "pace": fmt.pct(team["pace"]),
        "color": _pace_color(team["target_amount"], team["pace"]),
        "deals_won": team["deals_won"],
        "deals_lost": team["deals_lost"],
        "win_rate": fmt.pct(team["win_rate"]),
    }


def pipeline_total(team: dict, fmt: Fmt) -> dict:
    """Pipeline and coverage of the reps still in the team: their open deals against their own gap."""
    return {
        "open_pipeline": fmt.number(team["open_pipeline_amount"]),
        "weighted": fmt.number(team["weighted_pipeline_amount"]),
        "gap": fmt.number(team["gap"]),
        "coverage": _coverage_cell(team["coverage"], team["gap"], fmt),
    }


def _pace_color(target: Any, rep_pace: Decimal | None) -> str:
    """Green at or ahead of pace, amber from 70 % of it, red below; grey without a target (or a zero one)."""
    if target is None or dec(target) <= 0:
        return attainment_color(None)
    return attainment_color(rep_pace if rep_pace is not None else 1)  # nothing due yet: on pace


def _sum(reps: list[dict], key: str) -> Decimal:
    return sum((dec(r[key]) for r in reps), Decimal(0))


def _gap(target: Any, won: Any) -> Decimal | None:
    if target is None:
        return None
    return max(dec(target) - dec(won), Decimal(0))


def _coverage(open_pipeline: Any, gap: Decimal | None) -> Decimal | None:
    """Open pipeline / gap to target; None without a target or once it is met."""
    if gap is None or gap == 0:
        return None
    return dec(open_pipeline) / gap


def _coverage_cell(coverage: Decimal | None, gap: Decimal | None, fmt: Fmt) -> str:
    """``2.5×``; ``✓`` when the target is already met (no gap); ``–`` without a target.

    No coverage despite a gap means no open pipeline (no pipeline row): ``0.0×``.
    """
    if gap is None:
        return "–"
    if gap == 0:
        return "✓"
    return f"{fmt.number(coverage or Decimal(0), 1)}×"
