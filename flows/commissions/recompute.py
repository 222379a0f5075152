"""Reversal policy ``recompute``: a cancelled credit no longer counts for its period.

With ``on_reversal: keep`` (the default, typical of SPIFs) a cancelled credit keeps counting for
the attainment of its own month: only its own lines are clawed back. With ``recompute`` the month
of the credit is calculated again without it - tiers, gates, accelerators, bonuses and caps - and
the difference of every other line (a deal that drops to a lower band, a bonus no longer reached)
is posted as an ``adjustment`` line in the period of the cancellation (the first open one; closed
periods never change), linked to the line (``related_line_id``, ``source_period``) and naming the
cancelled credit (``recompute:<month>:<credit id>:<line id>``). The credit's own lines are clawed
back as usual; both follow the plan's clawback window (docs/commission_plans.md, "Reversal
policy").
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal

from flows.commissions.lines import Credit, Line, RepState
from flows.commissions.money import ZERO, money, month_start
from flows.config.commission_plan import PlanVersion

History = dict[date, list[tuple[Credit, PlanVersion]]]
# (month, history, scratch state) -> the month's plan lines
Compute = Callable[[date, History, RepState], list[Line]]
Share = Callable[[Credit, Line], tuple[Decimal, str]]


def wants_recompute(plan: PlanVersion) -> bool:
    return any(plan.reversal_of(c) == "recompute" for c in plan.components)


def snapshot(state: RepState) -> RepState:
    """The rep's state as a period starts (without the other snapshots)."""
    return copy.deepcopy(replace(state, snapshots={}))


def _reversal_month(c: Credit) -> date | None:
    return month_start(max(c.reversed_on, c.credit_date)) if c.reversed_on else None


def _recomputes(plan: PlanVersion, line: Line) -> bool:
    comp = next((c for c in plan.components if c.component == line.component), None)
    return (plan.reversal_of(comp) if comp is not None else plan.on_reversal) == "recompute"


def recompute_lines(
    period: date,
    reversed_credits: list[Credit],
    history: History,
    state: RepState,
    compute: Compute,
    share: Share,
) -> list[Line]:
    """Adjustment lines for the months of credits cancelled in ``period`` under ``recompute``."""
    plan_of = {c.credit_id: p for entries in history.values() for c, p in entries}
    now = [c for c in reversed_credits if c.credit_id in plan_of and wants_recompute(plan_of[c.credit_id])]
    if not now:
        return []
    gone_before = {
        c.credit_id
        for entries in history.values()
        for c, p in entries
        if wants_recompute(p) and (_reversal_month(c) or period) < period
    }
    skip = gone_before | {c.credit_id for c in reversed_credits}
    out: list[Line] = []
    for source in sorted({month_start(c.credit_date) for c in now}):
        if source not in state.snapshots:
            continue
        excluded = set(gone_before)
        before = _lines(source, history, excluded, state, compute)
        for c in sorted((c for c in now if month_start(c.credit_date) == source), key=lambda c: c.credit_id):
            excluded.add(c.credit_id)
            after = _lines(source, history, excluded, state, compute)
            out += _differences(period, source, c, before, after, skip, plan_of[c.credit_id], share)
            before = after
    return out


def _lines(
    source: date, history: History, excluded: set[str], state: RepState, compute: Compute
) -> dict[str, Line]:
    kept = {m: [(c, p) for c, p in e if c.credit_id not in excluded] for m, e in history.items()}
    lines = compute(source, kept, copy.deepcopy(state.snapshots[source]))
    return {ln.commission_line_id: ln for ln in lines}


def _differences(
    period: date,
    source: date,
    credit: Credit,
    before: dict[str, Line],
    after: dict[str, Line],
    skip: set[str],
    plan: PlanVersion,
    share: Share,
) -> list[Line]:
    out: list[Line] = []
    for line_id in sorted(set(before) | set(after)):
        old, new = before.get(line_id), after.get(line_id)
        ref = new or old
        if ref.credit_id in skip or not _recomputes(plan, ref):
            continue
        diff = (new.commission_amount if new else ZERO) - (old.commission_amount if old else ZERO)
        if diff == 0:
            continue
        fraction, why = share(credit, ref)
        amount = money(diff * fraction)
        was = old.commission_amount if old else ZERO
        now = new.commission_amount if new else ZERO
        out.append(
            replace(
                ref,
                commission_line_id=f"recompute:{period:%Y-%m}:{credit.credit_id}:{line_id}",
                line_type="adjustment",
                period_month=period,
                commission_amount=amount,
                related_line_id=line_id,
                source_period=source,
                explanation=f"reversal recompute: credit {credit.credit_id} (deal {credit.deal_id}) "
                f"cancelled on {credit.cancelled_on or credit.reversed_on}; {source:%Y-%m} recalculated "
                f"without it: {line_id} {was} -> {now}, difference {diff}" + (f"; {why}" if why else ""),
            )
        )
    return out
