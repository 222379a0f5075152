"""Draws: a guaranteed minimum per period, topped up when earnings fall short; a recoverable draw's
balance is recovered from later earnings above the draw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Line, Rep, RepState
from flows.commissions.money import ZERO, prorate
from flows.config.commission_plan import PlanVersion


def draw_lines(
    plan: PlanVersion, rep: Rep, period: date, period_lines: list[Line], state: RepState, cur
) -> list[Line]:
    draw = prorate(plan.draw.amount, period, rep.hired_on, rep.left_on)
    if not draw:
        return []
    # the draw guarantees the period's own earnings; clawbacks of earlier periods are deducted on top
    earned = sum((x.commission_amount for x in period_lines if x.line_type != "clawback"), ZERO)
    balance = state.draw_balance[plan.plan_id]
    common = dict(
        rep_id=rep.rep_id,
        period_month=period,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component="draw",
        component_type="recoverable_draw" if plan.draw.recoverable else "draw",
        currency=cur,
    )
    if earned < draw:
        top_up = draw - earned
        if plan.draw.recoverable:
            state.draw_balance[plan.plan_id] = balance + top_up
        return [
            Line(
                commission_line_id=f"draw:{rep.rep_id}:{period:%Y-%m}:{plan.plan_id}",
                line_type="draw",
                base_amount=draw,
                commission_amount=top_up,
                explanation=f"draw {draw} guaranteed, earned {earned}: top-up {top_up}"
                + (
                    f"; recoverable, balance {balance} -> {balance + top_up}"
                    if plan.draw.recoverable
                    else "; not recoverable"
                ),
                **common,
            )
        ]
    if plan.draw.recoverable and balance > 0:
        recovered = min(balance, earned - draw)
        if recovered > 0:
            state.draw_balance[plan.plan_id] = balance - recovered
            return [
                Line(
                    commission_line_id=f"draw-recovery:{rep.rep_id}:{period:%Y-%m}:{plan.plan_id}",
                    line_type="draw_recovery",
                    base_amount=earned - draw,
                    commission_amount=-recovered,
                    explanation=f"recovers {recovered} of the draw balance {balance} from earnings {earned} "
                    f"above the draw {draw}; balance -> {balance - recovered}",
                    **common,
                )
            ]
    return []


def draw_balances(lines: Iterable[Line]) -> dict[tuple[str, date], Decimal]:
    """Recoverable draw balance per (rep, period) after the period: top-ups (``draw`` lines of a
    recoverable draw) minus recoveries so far - for statements and the estimator, which would
    otherwise show it only inside the explanation text."""
    by_period: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        if ln.component_type == "recoverable_draw":
            by_period[(ln.rep_id, ln.period_month)] += ln.commission_amount
    out: dict[tuple[str, date], Decimal] = {}
    running: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for rep_id, period in sorted(by_period):
        running[rep_id] += by_period[(rep_id, period)]
        out[(rep_id, period)] = running[rep_id]
    return out
