"""Draws: a guaranteed minimum per period, topped up when earnings fall short; a recoverable draw's
balance is recovered from later earnings above the draw.

A draw is paid in the months ``[start, end)`` (default: every month of the plan version) and its
balance recovered from ``recovery_start`` on (default: ``start``). A balance is never forgiven
silently: after the draw ends, or when the plan version in force has no draw, the balance is
carried and recovered from the month's earnings (``draw-carried:`` recovery lines; the warning
``draw_balance_carried`` says so)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Line, Rep, RepState
from flows.commissions.money import ZERO, prorate
from flows.config.commission_plan import PlanVersion


def period_draw_lines(
    plan: PlanVersion | None, rep: Rep, period: date, period_lines: list[Line], state: RepState, cur
) -> list[Line]:
    """The month's draw or recovery lines: the plan's draw while it runs, else the recovery of a
    balance carried from an earlier draw (never forgiven without a word)."""
    draw = plan.draw if plan is not None else None
    if draw is not None and draw.pays_in(period):
        return draw_lines(plan, rep, period, period_lines, state, cur)
    if draw is not None and not draw.recovers_in(period):
        return []
    return _carried_recovery(plan, rep, period, period_lines, state, cur)


def _carried_recovery(
    plan, rep: Rep, period: date, period_lines: list[Line], state: RepState, cur
) -> list[Line]:
    earned = sum((x.commission_amount for x in period_lines if x.line_type != "clawback"), ZERO)
    out: list[Line] = []
    for plan_id, balance in sorted(state.draw_balance.items()):
        take = min(balance, earned)
        if take <= 0:
            continue
        earned -= take
        state.draw_balance[plan_id] = balance - take
        why = (
            "has ended" if plan is not None and plan.draw is not None else "is not part of the plan in force"
        )
        out.append(
            Line(
                commission_line_id=f"draw-carried:{rep.rep_id}:{period:%Y-%m}:{plan_id}",
                line_type="draw_recovery",
                rep_id=rep.rep_id,
                period_month=period,
                plan_id=plan.plan_id if plan is not None else plan_id,
                plan_version=plan.version if plan is not None else None,
                component="draw",
                component_type="recoverable_draw",
                base_amount=earned + take,
                commission_amount=-take,
                currency=cur,
                explanation=f"the recoverable draw of {plan_id} {why}: its balance {balance} is carried, not "
                f"forgiven; recovers {take} from the month's earnings; balance -> {balance - take}",
            )
        )
    return out


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
    if plan.draw.recoverable and balance > 0 and plan.draw.recovers_in(period):
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
