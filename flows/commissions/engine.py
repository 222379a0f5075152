"""The commission engine: credited amounts + a plan book -> statement lines.

One implementation serves the nightly run (``flows.commissions.ledger.run_engine``) and the
estimator (``salesops commissions estimate``). It is pure Python over ``Decimal``: no database,
no floats. Component lines, caps, clawbacks and draws each have their module; this one walks the
reps and periods in order, carrying each rep's state (docs/commission_engine.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from operator import attrgetter

from flows.commissions.balances import apply_balances
from flows.commissions.caps import cap_lines
from flows.commissions.clawback_windows import Anchors, clawback_share
from flows.commissions.clawbacks import clawbacks
from flows.commissions.components import attainment_of, component_lines
from flows.commissions.draws import period_draw_lines
from flows.commissions.identity import add_credited_reps, canonical_inputs
from flows.commissions.lines import Credit, Line, Rep, RepState
from flows.commissions.money import ZERO, month_start, next_month, prorate
from flows.commissions.payouts import (
    Collections,
    cancel_pending,
    collections_of,
    deferral_lines,
    release_lines,
    release_months,
)
from flows.commissions.periods import period_months, period_start
from flows.commissions.plan_lookup import Book, PlanLookup
from flows.commissions.proration import plan_share, plan_target
from flows.commissions.recompute import recompute_lines, snapshot, wants_recompute
from flows.commissions.to_date import to_date_lines
from flows.config.commission_plan import PlanVersion


def calculate(
    book: Book,
    credits: Iterable[Credit],
    reps: dict[str, Rep] | None = None,
    targets: dict[tuple[str, date], Decimal] | None = None,
    *,
    periods: Iterable[date] = (),
    currency: str | None = None,
    prorate_targets: bool = True,
    fiscal_year_start_month: int = 1,
    balances: bool = True,
    anchors: Anchors | None = None,
) -> list[Line]:
    """Statement lines for every rep and period.

    ``targets`` maps (rep_id, month start) to the rep's FULL monthly target; the engine prorates
    it by the days employed (``Rep.hired_on``/``left_on``) unless ``prorate_targets`` is false
    (the nightly passes the targets mart's already prorated targets). Draws are always prorated.
    ``periods`` adds months to compute even without credits (draws are paid in them).
    ``fiscal_year_start_month`` (settings.yml) decides which months a ``per_year`` cap spans.
    ``balances`` adds the deficit carry-forward lines (:mod:`flows.commissions.balances`); the
    nightly's ledger adds them itself, over closed periods and adjustments too.
    ``anchors``: the clawback windows' anchor dates of the deals of the reversed credits, when
    ``credits`` are only some reps' (the nightly's group of reps, :mod:`flows.commissions.chunks`:
    a deal's close or payment date may be another rep's credit); default: from ``credits``.
    """
    book = PlanLookup.of(book)  # plan_for asked per credit, rep-month and day: remembered
    reps = dict(reps or {})
    targets = dict(targets or {})
    credits, reps, targets = canonical_inputs(list(credits), reps, targets)  # 'Ann' is 'ann'
    add_credited_reps(reps, credits)
    after = _AfterSale(
        Anchors.of(credits) if anchors is None else anchors,
        collections_of(credits),
        any(wants_recompute(p) for p in book.plans),
        any(not c.measured_monthly for p in book.plans for c in p.components),
    )
    by_rep_period, reversals, rep_periods = _by_rep_period(book, credits, reps, after.collections)
    for rep_id, period in targets:
        rep_periods[rep_id].add(period)
    extra = sorted({month_start(p) for p in periods})
    for rep_id in reps:
        rep_periods[rep_id].update(extra)

    histories: dict[str, dict[date, list[tuple[Credit, PlanVersion]]]] = defaultdict(dict)
    for (r, p), e in by_rep_period.items():
        histories[r][p] = e
    lines: list[Line] = []
    for rep_id in sorted(rep_periods):
        rep, state = reps[rep_id], RepState(fiscal_year_start_month)
        history = histories.get(rep_id, {})
        for period in sorted(rep_periods[rep_id]):
            inputs = _Inputs(book, rep, period, history, targets, state, currency, prorate_targets, after)
            lines.extend(_rep_period(inputs, reversals.get((rep_id, period), [])))
    return apply_balances(book, lines, reps) if balances else lines


def _by_rep_period(
    book: PlanLookup, credits: list[Credit], reps: dict[str, Rep], collections: Collections
) -> tuple[
    dict[tuple[str, date], list[tuple[Credit, PlanVersion]]], dict[tuple[str, date], list[Credit]], dict
]:
    """Each credit with the plan that pays it, by rep and month; the reversed credits by rep and
    month of the reversal; the months to compute per rep. The plan is asked once per (rep, day)
    and a plan's bases and payout schedules once per plan version: this loop sees every credit
    and roll-up credit (200k at 100k deals)."""
    by_rep_period: dict[tuple[str, date], list[tuple[Credit, PlanVersion]]] = defaultdict(list)
    reversals: dict[tuple[str, date], list[Credit]] = defaultdict(list)
    rep_periods: dict[str, set[date]] = defaultdict(set)
    # what a credit's plan depends on is its rep and day: the rep employed that day, the plan, its
    # bases and payout schedules, the month (None: not paid), worked out once per (rep, day)
    on_day: dict[tuple[str, date], tuple[PlanVersion, set[str], bool, date] | None] = {}
    pays: dict[int, tuple[set[str], bool]] = {}  # id(plan) -> (bases, has payout schedules)
    for c in credits:
        key = (c.rep_id, c.credit_date)
        try:
            found = on_day[key]
        except KeyError:
            found = on_day[key] = _pay_on(book, reps[c.rep_id], c.credit_date, pays)
        if found is None:
            continue
        plan, bases, scheduled, period = found
        if c.basis not in bases:
            continue
        by_rep_period[(c.rep_id, period)].append((c, plan))
        months = rep_periods[c.rep_id]
        months.add(period)
        if scheduled:  # payout schedules: the months an instalment can fall due in
            months |= release_months(c, plan, collections)
        if c.reversed_on is not None:
            when = month_start(max(c.reversed_on, c.credit_date))
            reversals[(c.rep_id, when)].append(c)
            months.add(when)
    return by_rep_period, reversals, rep_periods


def _pay_on(
    book: PlanLookup, rep: Rep, day: date, pays: dict[int, tuple[set[str], bool]]
) -> tuple[PlanVersion, set[str], bool, date] | None:
    """(the plan paying ``rep``'s credits of ``day``, its bases, whether it has payout schedules,
    the month), None when nothing pays them: after the rep left (credits are earned only while
    employed, e.g. cash collected after the rep left) or no plan applies."""
    if rep.left_on is not None and day > rep.left_on:
        return None
    plan = book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role_on(day), day=day)
    if plan is None:
        return None
    if id(plan) not in pays:
        pays[id(plan)] = (plan.bases, any(comp.payout for comp in plan.components))
    return (plan, *pays[id(plan)], month_start(day))


@dataclass(frozen=True)
class _AfterSale:
    """What the after-sale mechanics read: deals' anchor dates (clawback windows), cash collected
    per rep and deal (payout schedules), whether any plan recomputes on reversal."""

    anchors: Anchors = field(default_factory=Anchors)
    collections: Collections = field(default_factory=dict)
    recompute: bool = False
    longer_periods: bool = False  # a component measured over a quarter, half or year


@dataclass(frozen=True)
class _Inputs:
    """What one rep-month's calculation reads: the rep's credits by month (with their plan) and
    targets, the rep's state carried from earlier months."""

    book: Book
    rep: Rep
    period: date
    history: dict[date, list[tuple[Credit, PlanVersion]]]
    targets: dict[tuple[str, date], Decimal]
    state: RepState
    currency: str | None
    prorate_targets: bool
    after: _AfterSale = field(default_factory=_AfterSale)
    # (plan version, months) -> its credits in order: a plan's components ask for the same ones
    # (not an init field: ``replace`` for another history or state starts with an empty one)
    _credits: dict[tuple, tuple[Credit, ...]] = field(default_factory=dict, init=False, repr=False)

    def share(self, credit: Credit, line: Line):
        """The clawback window's fraction for a line of a cancelled credit (its plan's policy)."""
        plan = next(
            (p for p in self.book.plans if (p.plan_id, p.version) == (line.plan_id, line.plan_version)), None
        )
        return clawback_share(plan.clawback_of(line.component) if plan else None, credit, self.after.anchors)

    def target(self, month: date, plan: tuple[str, int] | None = None) -> Decimal | None:
        """The month's target; of a plan: prorated by the days the rep is on it (``proration``)."""
        target = self.targets.get((self.rep.rep_id, month))
        if plan is not None:
            days = self.state.plan_days
            return plan_target(target, self.book, self.rep, plan, month, days, full=self.prorate_targets)
        if self.prorate_targets:
            target = prorate(target, month, self.rep.hired_on, self.rep.left_on)
        return target

    def quota(self, months: list[date], plan: tuple[str, int] | None = None) -> Decimal | None:
        """The sum of the months' targets (None when no month has one)."""
        found = [t for t in (self.target(m, plan) for m in months) if t is not None]
        return sum(found, ZERO) if found else None

    def credits(self, key: tuple[str, int], months: list[date]) -> tuple[Credit, ...]:
        """The plan version's credits of ``months``, in credit-date order (ties by credit id)."""
        memo = (key, *months)
        if memo not in self._credits:
            out = [c for m in months for c, p in self.history.get(m, []) if (p.plan_id, p.version) == key]
            self._credits[memo] = tuple(sorted(out, key=_BY_DATE_AND_ID))
        return self._credits[memo]


_BY_DATE_AND_ID = attrgetter("credit_date", "credit_id")


def _rep_period(inputs: _Inputs, reversed_credits: list[Credit]) -> list[Line]:
    book, rep, period, state = inputs.book, inputs.rep, inputs.period, inputs.state
    out: list[Line] = []
    plans: dict[tuple[str, int], PlanVersion] = {}
    for _, p in inputs.history.get(period, []):
        plans[(p.plan_id, p.version)] = p
    day = max(period, rep.hired_on) if rep.hired_on and rep.hired_on < next_month(period) else period
    period_plan = book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role_on(day), day=day)
    if period_plan is not None:
        plans.setdefault((period_plan.plan_id, period_plan.version), period_plan)
    # a plan measured over a longer period is settled every month of it, new credits or not (a
    # monthly component's period is the month itself: an earlier month never falls in it)
    for month, entries in inputs.history.items() if inputs.after.longer_periods else ():
        if month >= period:
            continue
        for p in _distinct_plans(entries):
            if any(
                month >= period_start(period, c.measurement_period, state.fiscal_year_start_month)
                for c in p.components
                if not c.measured_monthly
            ):
                plans.setdefault((p.plan_id, p.version), p)

    if inputs.after.recompute:
        state.snapshots[period] = snapshot(state)
    for key in sorted(plans):
        plan_lines = _plan_lines(inputs, plans[key], key)
        plan_lines += deferral_lines(plans[key], plan_lines, state)
        for ln in plan_lines:
            if ln.credit_id:
                state.lines_by_credit[ln.credit_id].append(ln)
        out += plan_lines

    cancelled = {c.credit_id for c in reversed_credits}
    out += release_lines(period, state, inputs.after.collections, cancelled)
    if inputs.after.recompute:
        out += recompute_lines(
            period, reversed_credits, inputs.history, state, _recompute(inputs), inputs.share
        )
    out += clawbacks(reversed_credits, period, state, inputs.share)
    out += cancel_pending(reversed_credits, period, state)

    cur = inputs.currency or (period_plan.currency if period_plan else None) or "USD"
    out += period_draw_lines(period_plan, rep, period, out, state, cur)
    return out


def _distinct_plans(entries: list[tuple[Credit, PlanVersion]]) -> list[PlanVersion]:
    """The plan versions of a month's credits, each once, in the order first met."""
    seen: dict[int, PlanVersion] = {}
    for _, p in entries:
        seen.setdefault(id(p), p)
    return list(seen.values())


def _recompute(inputs: _Inputs):
    """The month's plan lines on another history and state: the reversal policy's recompute."""

    def compute(month: date, history, state: RepState) -> list[Line]:
        again = replace(inputs, period=month, history=history, state=state)
        keys = {(p.plan_id, p.version): p for _, p in inputs.history.get(month, [])}
        return [ln for key in sorted(keys) for ln in _plan_lines(again, keys[key], key)]

    return compute


def _direct_total(pcredits: tuple[Credit, ...], plan: PlanVersion) -> Decimal:
    """What attainment is measured on: the direct credits of the plan's own basis (``credit_on``)."""
    return sum((c.amount for c in pcredits if c.kind == "direct" and c.basis == plan.credit_on), ZERO)


def _plan_lines(inputs: _Inputs, plan: PlanVersion, key: tuple[str, int]) -> list[Line]:
    """One plan version's lines of the month: each component on its measurement period, then the
    plan-level caps on the month's lines."""
    rep, period, state = inputs.rep, inputs.period, inputs.state
    cur = inputs.currency or plan.currency
    plan_lines: list[Line] = []
    # every component measured monthly reads the same credits, target, share and attainment: once
    monthly: tuple | None = None
    for comp in plan.components:
        if comp.measured_monthly:
            if monthly is None:
                pcredits = inputs.credits(key, [period])
                target = inputs.target(period, key)
                share = plan_share(inputs.book, rep, key, [period], state.plan_days)
                monthly = (pcredits, target, share, attainment_of(_direct_total(pcredits, plan), target))
            pcredits, target, share, attainment = monthly
        else:
            start = period_start(period, comp.measurement_period, state.fiscal_year_start_month)
            months = period_months(start, comp.measurement_period)
            pcredits = inputs.credits(key, [m for m in months if m <= period])
            quota_months = months if comp.quota == "period" else [m for m in months if m <= period]
            target = inputs.quota(quota_months, key)
            share = plan_share(inputs.book, rep, key, quota_months, state.plan_days)
            attainment = attainment_of(_direct_total(pcredits, plan), target)
        if comp.measured_monthly:
            comp_lines = component_lines(plan, comp, rep, period, pcredits, target, attainment, cur, share)
            comp_lines += cap_lines(comp.caps, comp_lines, plan, comp.component, rep, period, state, cur)
        else:
            comp_lines = to_date_lines(
                plan, comp, rep, period, start, pcredits, target, attainment, state, cur, share
            )
        plan_lines += comp_lines
    plan_lines += cap_lines(plan.caps, plan_lines, plan, None, rep, period, state, cur)
    return plan_lines
