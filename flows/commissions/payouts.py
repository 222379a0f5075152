"""Payout schedules: a component's commission on a credit paid in instalments.

``payout: [{percent: 50, on: booking}, {percent: 50, on: collection}]`` or ``{percent: 50,
after_days: 60}``. In the credit's month the component's lines are written in full (what was
earned) and each later instalment is held back by a ``deferral`` line (minus the instalment);
a ``release`` line pays it when it falls due: ``after_days`` in the month holding credit date + N
days, ``on: collection`` in proportion to the deal's cash collected for the rep so far (collection
credits of the deal / the booked credit). A cancelled credit's clawback reverses its lines - the
commission, the deferral and any release - so only what was paid is clawed back; what is still
pending is cancelled (a ``pending_cancel`` line of amount 0). Pending lines carry the change of
the pending balance in ``base_amount`` (deferral +, release and cancel -), so statements show paid
and pending (docs/commission_plans.md, "Payout schedules").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from flows.commissions.lines import Credit, Line, RepState
from flows.commissions.money import ZERO, money, month_start, next_month
from flows.config.commission_plan import PlanVersion
from flows.config.commission_policies import Instalment

PENDING_TYPES = ("deferral", "release", "pending_cancel")
Collections = dict[tuple[str, str], list[tuple[date, Decimal]]]


@dataclass
class Pending:
    """One held-back instalment of one credit's commission in one component."""

    deferral: Line
    instalment: Instalment
    amount: Decimal
    released: Decimal = ZERO
    cancelled: bool = False

    @property
    def open_amount(self) -> Decimal:
        return ZERO if self.cancelled else self.amount - self.released


def collections_of(credits: Iterable[Credit]) -> Collections:
    """(rep, deal) -> [(payment date, collected amount)] of the direct collection credits, whatever
    plan they pay on: what ``on: collection`` instalments are released by."""
    out: Collections = defaultdict(list)
    for c in credits:
        if c.kind == "direct" and c.basis == "collection" and c.reversed_on is None:
            out[(c.rep_id, c.deal_id)].append((c.credit_date, c.amount))
    return out


def release_months(credit: Credit, plan: PlanVersion, collections: Collections) -> set[date]:
    """The months an instalment of ``credit`` under ``plan`` can fall due in: the engine computes
    them even when the rep has no credit of the plan then."""
    out: set[date] = set()
    for comp in plan.components:
        for inst in comp.payout or []:
            if inst.after_days is not None:
                out.add(month_start(credit.credit_date + timedelta(days=inst.after_days)))
            elif inst.on == "collection":
                out |= {month_start(day) for day, _ in collections.get((credit.rep_id, credit.deal_id), [])}
    return out


def deferral_lines(plan: PlanVersion, lines: list[Line], state: RepState) -> list[Line]:
    """The instalments of this month's credit lines not paid at booking, held back."""
    out: list[Line] = []
    for comp in plan.components:
        later = [(i, inst) for i, inst in enumerate(comp.payout or [], start=1) if not inst.immediate]
        if not later:
            continue
        earned: dict[str, Decimal] = defaultdict(lambda: ZERO)
        first: dict[str, Line] = {}
        for ln in lines:
            if ln.component == comp.component and ln.credit_id and ln.line_type in ("commission", "cap"):
                earned[ln.credit_id] += ln.commission_amount
                first.setdefault(ln.credit_id, ln)
        for credit_id in sorted(earned):
            for i, inst in later:
                amount = money(earned[credit_id] * inst.percent / 100)
                if amount <= 0:
                    continue
                when = f"{inst.after_days} days after the credit date" if inst.on is None else "on collection"
                line = replace(
                    first[credit_id],
                    commission_line_id=f"defer:{credit_id}:{plan.plan_id}:v{plan.version}:{comp.component}:{i}",
                    line_type="deferral",
                    component_type="payout_schedule",
                    tier_number=i,
                    band_lower=None,
                    band_upper=None,
                    rate=None,
                    multiplier=None,
                    running_before=None,
                    running_after=None,
                    base_amount=amount,
                    commission_amount=-amount,
                    explanation=f"payout schedule: instalment {i} ({inst.percent} % of "
                    f"{earned[credit_id]} earned) is paid {when}; pending {amount}",
                )
                state.pending[line.commission_line_id] = Pending(line, inst, amount)
                out.append(line)
    return out


def _due(p: Pending, period: date, collections: Collections) -> Decimal:
    """How much of the instalment is due by the end of ``period``."""
    d = p.deferral
    if p.instalment.after_days is not None:
        due_on = d.credit_date + timedelta(days=p.instalment.after_days)
        return p.amount if month_start(due_on) <= period else ZERO
    booked = d.credit_amount or ZERO
    if booked <= 0:
        return ZERO
    end = next_month(period)
    collected = sum((a for day, a in collections.get((d.rep_id, d.deal_id), []) if day < end), ZERO)
    return p.amount if collected >= booked else money(p.amount * collected / booked)


def release_lines(period: date, state: RepState, collections: Collections, cancelled: set[str]) -> list[Line]:
    """Release lines of the instalments falling due this month (not of credits cancelled now)."""
    out: list[Line] = []
    for key, p in sorted(state.pending.items()):
        if p.cancelled or p.deferral.credit_id in cancelled:
            continue
        amount = _due(p, period, collections) - p.released
        if amount <= 0:
            continue
        p.released += amount
        rule = "collected" if p.instalment.on == "collection" else f"{p.instalment.after_days} days passed"
        line = replace(
            p.deferral,
            commission_line_id=f"release:{period:%Y-%m}:{key}",
            line_type="release",
            period_month=period,
            base_amount=-amount,
            commission_amount=amount,
            related_line_id=key,
            source_period=p.deferral.period_month,
            explanation=f"payout schedule: releases {amount} of instalment {key} ({rule}); "
            f"{p.amount - p.released} still pending",
        )
        state.lines_by_credit[p.deferral.credit_id].append(line)
        out.append(line)
    return out


def cancel_pending(reversed_credits: list[Credit], period: date, state: RepState) -> list[Line]:
    """A cancelled credit's instalments not yet paid are cancelled (nothing to claw back)."""
    ids = {c.credit_id for c in reversed_credits}
    out: list[Line] = []
    for key, p in sorted(state.pending.items()):
        if p.deferral.credit_id not in ids or p.open_amount <= 0:
            continue
        left = p.open_amount
        p.cancelled = True
        out.append(
            replace(
                p.deferral,
                commission_line_id=f"cancel:{period:%Y-%m}:{key}",
                line_type="pending_cancel",
                period_month=period,
                base_amount=-left,
                commission_amount=ZERO,
                related_line_id=key,
                source_period=p.deferral.period_month,
                explanation=f"payout schedule: the deal was cancelled; the pending {left} of instalment "
                f"{key} is cancelled, never paid (only what was paid is clawed back)",
            )
        )
    return out


def pending_balances(lines: Iterable[Line]) -> dict[tuple[str, date], Decimal]:
    """Pending (earned, not yet paid) instalments per (rep, period) after the period."""
    change: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        if ln.line_type in PENDING_TYPES:
            change[(ln.rep_id, ln.period_month)] += ln.base_amount or ZERO
    out: dict[tuple[str, date], Decimal] = {}
    running: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for rep_id, period in sorted(change):
        running[rep_id] += change[(rep_id, period)]
        out[(rep_id, period)] = running[rep_id]
    return out
