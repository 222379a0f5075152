"""The manager report's figures: a row per rep, the team's totals, and pipeline and coverage.

Attainment is shown against the whole month's target and coloured against the target *to date*
(:mod:`flows.reports.pace`), so a rep ahead of pace is not red on the 10th. Reps who have left stay
in the attainment table (their won deals count for the month) but not in pipeline and coverage:
their open deals are nobody's to close. Team figures are recomputed from sums, never averaged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flows.reports.common import dec
from flows.reports.formatting import Fmt, attainment_color
from flows.reports.pace import pace


def team_label(manager: dict) -> str:
    """The manager's team name, or "<manager>'s team" when the CRM has none."""
    return manager["team_name"] or f"{manager['rep_name']}'s team"


def rep_row(r: dict, fmt: Fmt) -> dict:
    """One rep's cells for the attainment and the pipeline tables."""
    rep_pace = pace(r["won_amount"], r["target_to_date"])
    gap = _gap(r["target_amount"], r["won_amount"])
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
        "pace": fmt.pct(rep_pace),
        "color": _pace_color(r["target_amount"], rep_pace),
        "deals_won": int(r["deals_won"] or 0),
        "deals_lost": int(r["deals_lost"] or 0),
        "win_rate": fmt.pct(r["win_rate"]),
        "open_pipeline": fmt.number(r["open_pipeline_amount"]),
        "weighted": fmt.number(r.get("weighted_pipeline_amount")),
        "gap": fmt.number(gap),
        "coverage": _coverage(r["open_pipeline_amount"], gap, fmt),
    }


def total_row(reps: list[dict], fmt: Fmt) -> dict:
    """The team's attainment row, every rep shown included (leavers' won deals count for the month)."""
    won = _sum(reps, "won_amount")
    has_target = any(r["target_amount"] is not None for r in reps)
    target = _sum(reps, "target_amount") if has_target else None
    to_date = _sum(reps, "target_to_date") if has_target else None
    team_pace = pace(won, to_date)
    deals_won = sum(int(r["deals_won"] or 0) for r in reps)
    deals_lost = sum(int(r["deals_lost"] or 0) for r in reps)
    attainment = won / target if target else None
    return {
        "won": fmt.number(won),
        "target": fmt.number(target),
        "attainment": fmt.pct(attainment),
        "attainment_raw": attainment,
        "target_to_date": fmt.number(to_date),
        "target_to_date_raw": to_date,
        "target_raw": target,
        "pace": fmt.pct(team_pace),
        "color": _pace_color(target, team_pace),
        "deals_won": deals_won,
        "deals_lost": deals_lost,
        "win_rate": fmt.pct(
            Decimal(deals_won) / (deals_won + deals_lost) if deals_won + deals_lost else None
        ),
    }


def pipeline_total(active: list[dict], fmt: Fmt) -> dict:
    """Pipeline and coverage of the reps still in the team: their open deals against their own gap."""
    open_pipeline = _sum(active, "open_pipeline_amount")
    has_target = any(r["target_amount"] is not None for r in active)
    won = _sum(active, "won_amount")
    gap = _gap(_sum(active, "target_amount"), won) if has_target else None
    return {
        "open_pipeline": fmt.number(open_pipeline),
        "weighted": fmt.number(_sum(active, "weighted_pipeline_amount")),
        "gap": fmt.number(gap),
        "coverage": _coverage(open_pipeline, gap, fmt),
    }


def _pace_color(target: Any, rep_pace: Decimal | None) -> str:
    """Green at or ahead of pace, amber from 70 % of it, red below; grey without a target (or a zero one)."""
    if target is None or dec(target) <= 0:
        return attainment_color(None)
    return attainment_color(rep_pace if rep_pace is not None else 1)  # nothing due yet: on pace


def _sum(reps: list[dict], key: str) -> Decimal:
    return sum((dec(r.get(key)) for r in reps), Decimal(0))


def _gap(target: Any, won: Any) -> Decimal | None:
    if target is None:
        return None
    return max(dec(target) - dec(won), Decimal(0))


def _coverage(open_pipeline: Any, gap: Decimal | None, fmt: Fmt) -> str:
    """Open pipeline / gap to target: ``2.5×``; ``✓`` when the target is already met."""
    if gap is None:
        return "–"
    if gap == 0:
        return "✓"
    return f"{fmt.number(dec(open_pipeline) / gap, 1)}×"
