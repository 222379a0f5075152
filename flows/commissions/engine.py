"""The commission engine: credited amounts + a plan book -> statement lines.

One implementation serves the nightly run (``flows.commissions.ledger.run_engine``) and the
estimator (``salesops commissions estimate``). It is pure Python over ``Decimal``: no database,
no floats. The sequential mechanics live here because they carry state from one credit (or one
period) to the next, which SQL expresses badly: running tier position in credit-date order,
retroactive vs marginal, caps per deal / period / year, gates, accelerators, attainment bonuses,
recoverable draws carried across periods and clawbacks limited to what was paid.

Rounding: every line's ``commission_amount`` is rounded half-up (half away from zero) to the cent
on its own; statement totals are sums of rounded lines. Band boundaries in money are
``band x target``, also rounded half-up to the cent. Bands are half-open ``[lower, upper)``.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flows.commissions.plan import Caps, Component, PlanBook, PlanVersion

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    """Half-up (half away from zero) to the cent."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def prorate(
    amount: Decimal | None, period: date, hired_on: date | None, left_on: date | None
) -> Decimal | None:
    """``amount`` x active days / days in the month, half-up to the cent. Active days are
    ``[max(hired_on, month start), min(left_on + 1 day, next month))`` (left_on is the last day
    employed) - the same rule as ``marts.fct_sales_targets``."""
    if amount is None:
        return None
    days = calendar.monthrange(period.year, period.month)[1]
    start = max(period, hired_on) if hired_on else period
    end = next_month(period)
    if left_on is not None and left_on + timedelta(days=1) < end:
        end = left_on + timedelta(days=1)
    active = max((end - start).days, 0)
    if active >= days:
        return amount
    return money(amount * active / days)


@dataclass(frozen=True)
class Credit:
    """One credited amount: a share of a deal credited to one rep on a date.

    ``amount`` is in the plan currency and already multiplied by ``split_share``. ``kind`` is
    ``direct`` (the rep's own sale or split) or ``rollup`` (a manager's credit for the team).
    ``reversed_on`` marks a cancelled or refunded credit: its lines are clawed back in that
    date's period; the credit still counts for the attainment of its own period.
    """

    credit_id: str
    deal_id: str
    rep_id: str
    credit_date: date
    amount: Decimal
    kind: str = "direct"
    split_share: Decimal = Decimal(1)
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None
    reversed_on: date | None = None
    basis: str = "booking"  # booking (close date) | collection (payment date); the plan picks one


@dataclass(frozen=True)
class Rep:
    rep_id: str
    email: str | None = None
    role: str | None = None
    hired_on: date | None = None
    left_on: date | None = None


@dataclass
class Line:
    """One statement line. Column order = ``finance.commission_lines`` / ``marts.fct_commissions``."""

    commission_line_id: str
    line_type: str  # commission | bonus | cap | clawback | draw | draw_recovery | adjustment
    rep_id: str
    period_month: date
    deal_id: str | None = None
    credit_id: str | None = None
    credit_kind: str | None = None
    credit_basis: str | None = None
    credit_date: date | None = None
    plan_id: str | None = None
    plan_version: int | None = None
    component: str | None = None
    component_type: str | None = None
    tier_position: str | None = None
    tier_number: int | None = None
    band_lower: Decimal | None = None
    band_upper: Decimal | None = None
    rate: Decimal | None = None
    weight: Decimal | None = None
    multiplier: Decimal | None = None
    credit_amount: Decimal | None = None
    split_share: Decimal | None = None
    original_amount: Decimal | None = None
    original_currency: str | None = None
    fx_rate: Decimal | None = None
    target_amount: Decimal | None = None
    attainment: Decimal | None = None
    running_before: Decimal | None = None
    running_after: Decimal | None = None
    base_amount: Decimal | None = None
    commission_amount: Decimal = ZERO
    currency: str = "USD"
    related_line_id: str | None = None  # clawback -> line reversed; adjustment -> line adjusted
    source_period: date | None = None  # adjustment: the closed period recalculated
    explanation: str = ""

    def as_row(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))


LINE_COLUMNS = tuple(f.name for f in fields(Line))


def fiscal_year_start(day: date, start_month: int = 1) -> date:
    """First day of the fiscal year holding ``day``. FY N starts on the first day of
    ``start_month`` in calendar year N (config/README.md), so with 4, 2027-02-10 is in FY2026."""
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)


@dataclass
class _RepState:
    fiscal_year_start_month: int = 1
    # (cap scope, fiscal year start) -> net amount of the scope paid in that fiscal year so far
    year_totals: dict[tuple, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    draw_balance: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    lines_by_credit: dict[str, list[Line]] = field(default_factory=lambda: defaultdict(list))
    # period / year cap line id -> {credit_id (None = lines without a credit, e.g. bonuses): the
    # (negative) part of the cap line that falls on it}
    cap_split: dict[str, dict[str | None, Decimal]] = field(default_factory=dict)
    # credit_id -> [(period/year cap line, the credit's part of it)]: what a clawback gives back
    cap_shares: dict[str, list[tuple[Line, Decimal]]] = field(default_factory=lambda: defaultdict(list))


def _band_index(bands, position: Decimal, bounds: list[tuple[Decimal, Decimal | None]]) -> int:
    """Index of the half-open band holding ``position`` (a boundary belongs to the higher band)."""
    for i, (lower, upper) in enumerate(bounds):
        if position >= lower and (upper is None or position < upper):
            return i
    return 0


def _attainment(total: Decimal, target: Decimal | None) -> Decimal | None:
    if not target:
        return None
    return (total / target).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _multiplier(comp: Component, attainment: Decimal | None) -> tuple[Decimal, str]:
    mult, notes = Decimal(1), []
    if comp.gate is not None and (attainment is None or attainment < comp.gate.min_attainment):
        return Decimal(0), f"gate not met (attainment {attainment} < {comp.gate.min_attainment})"
    for acc in comp.accelerators or []:
        if (
            attainment is not None
            and attainment >= acc.attainment_from
            and (acc.attainment_to is None or attainment < acc.attainment_to)
        ):
            mult = acc.multiplier
            notes.append(f"accelerator x{acc.multiplier} at attainment {attainment}")
    return mult, "; ".join(notes)


def calculate(
    book: PlanBook,
    credits: Iterable[Credit],
    reps: dict[str, Rep] | None = None,
    targets: dict[tuple[str, date], Decimal] | None = None,
    *,
    periods: Iterable[date] = (),
    currency: str | None = None,
    prorate_targets: bool = True,
    fiscal_year_start_month: int = 1,
) -> list[Line]:
    """Statement lines for every rep and period.

    ``targets`` maps (rep_id, month start) to the rep's FULL monthly target; the engine prorates
    it by the days employed (``Rep.hired_on``/``left_on``) unless ``prorate_targets`` is false
    (the nightly passes the targets mart's already prorated targets). Draws are always prorated.
    ``periods`` adds months to compute even without credits (draws are paid in them).
    ``fiscal_year_start_month`` (settings.yml) decides which months a ``per_year`` cap spans.
    """
    reps = dict(reps or {})
    targets = dict(targets or {})
    credits = list(credits)
    for c in credits:
        reps.setdefault(c.rep_id, Rep(c.rep_id))
    by_rep_period: dict[tuple[str, date], list[tuple[Credit, PlanVersion]]] = defaultdict(list)
    reversals: dict[tuple[str, date], list[Credit]] = defaultdict(list)
    rep_periods: dict[str, set[date]] = defaultdict(set)
    for c in credits:
        rep = reps[c.rep_id]
        if rep.left_on is not None and c.credit_date > rep.left_on:
            continue  # earned only while employed: e.g. cash collected after the rep left
        plan = book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role, day=c.credit_date)
        if plan is None or c.basis not in plan.bases:
            continue
        by_rep_period[(c.rep_id, month_start(c.credit_date))].append((c, plan))
        rep_periods[c.rep_id].add(month_start(c.credit_date))
        if c.reversed_on is not None:
            when = month_start(max(c.reversed_on, c.credit_date))
            reversals[(c.rep_id, when)].append(c)
            rep_periods[c.rep_id].add(when)
    for rep_id, period in targets:
        rep_periods[rep_id].add(period)
    extra = sorted({month_start(p) for p in periods})
    for rep_id in reps:
        rep_periods[rep_id].update(extra)

    lines: list[Line] = []
    for rep_id in sorted(rep_periods):
        rep, state = reps[rep_id], _RepState(fiscal_year_start_month)
        for period in sorted(rep_periods[rep_id]):
            lines.extend(
                _rep_period(
                    book,
                    rep,
                    period,
                    by_rep_period.get((rep_id, period), []),
                    reversals.get((rep_id, period), []),
                    targets,
                    state,
                    currency,
                    prorate_targets,
                )
            )
    return lines


def _rep_period(
    book,
    rep: Rep,
    period: date,
    entries,
    reversed_credits,
    targets,
    state: _RepState,
    currency,
    prorate_targets,
):
    out: list[Line] = []
    target = targets.get((rep.rep_id, period))
    if prorate_targets:
        target = prorate(target, period, rep.hired_on, rep.left_on)
    plans: dict[tuple[str, int], PlanVersion] = {}
    credits_by_plan: dict[tuple[str, int], list[Credit]] = defaultdict(list)
    for c, p in entries:
        plans[(p.plan_id, p.version)] = p
        credits_by_plan[(p.plan_id, p.version)].append(c)
    day = max(period, rep.hired_on) if rep.hired_on and rep.hired_on < next_month(period) else period
    period_plan = book.plan_for(rep_id=rep.rep_id, email=rep.email, role=rep.role, day=day)
    if period_plan is not None:
        plans.setdefault((period_plan.plan_id, period_plan.version), period_plan)

    for key in sorted(plans):
        plan = plans[key]
        cur = currency or plan.currency
        pcredits = sorted(credits_by_plan.get(key, []), key=lambda c: (c.credit_date, c.credit_id))
        # attainment: the month's direct credits of the plan's own basis (credit_on)
        direct_total = sum(
            (c.amount for c in pcredits if c.kind == "direct" and c.basis == plan.credit_on), ZERO
        )
        attainment = _attainment(direct_total, target)
        plan_lines: list[Line] = []
        for comp in plan.components:
            comp_lines = _component_lines(plan, comp, rep, period, pcredits, target, attainment, cur)
            comp_lines += _caps(comp.caps, comp_lines, plan, comp.component, rep, period, state, cur)
            plan_lines += comp_lines
        plan_lines += _caps(plan.caps, plan_lines, plan, None, rep, period, state, cur)
        for ln in plan_lines:
            if ln.credit_id:
                state.lines_by_credit[ln.credit_id].append(ln)
        out += plan_lines

    # clawbacks: reverse what the cancelled credit was paid, in the cancellation's period: each of
    # its lines (commission lines and its per-deal cap line) and its part of the period / year cap
    # lines that cut it, so that the clawback never exceeds what was paid
    fy = fiscal_year_start(period, state.fiscal_year_start_month)
    for c in sorted(reversed_credits, key=lambda c: c.credit_id):
        claws = [
            clawback_line(orig, period, c.reversed_on)
            for orig in state.lines_by_credit.get(c.credit_id, [])
            if orig.commission_amount != 0
        ]
        claws += [
            cap_share_clawback(cap, share, c, period)
            for cap, share in state.cap_shares.get(c.credit_id, [])
            if share != 0
        ]
        for ln in claws:
            # a clawback in the same fiscal year gives the amount back to the yearly caps' room
            if fiscal_year_start(ln.source_period, state.fiscal_year_start_month) == fy:
                scopes = [f"{ln.plan_id}:v{ln.plan_version}:*"]
                if ln.component is not None:
                    scopes.append(f"{ln.plan_id}:v{ln.plan_version}:{ln.component}")
                for scope in scopes:
                    if (scope, fy) in state.year_totals:
                        state.year_totals[(scope, fy)] += ln.commission_amount
        out += claws

    if period_plan is not None and period_plan.draw is not None:
        out += _draw(period_plan, rep, period, out, state, currency or period_plan.currency)
    return out


def clawback_line(orig: Line, period: date, reversed_on: date | None, paid: Decimal | None = None) -> Line:
    """A negative line reversing ``orig`` (at most ``paid``, default the line's amount): the same
    deal, plan, band, rate and amounts as ``orig`` for the rep to follow, without its attainment
    and running position (a clawback does not change the attainment tiers were read from)."""
    paid = orig.commission_amount if paid is None else paid
    return replace(
        orig,
        commission_line_id=f"clawback:{orig.commission_line_id}",
        line_type="clawback",
        period_month=period,
        target_amount=None,
        attainment=None,
        running_before=None,
        running_after=None,
        commission_amount=-paid,
        related_line_id=orig.commission_line_id,
        source_period=orig.period_month,
        explanation=f"clawback of {orig.commission_line_id} ({orig.period_month:%Y-%m}): deal cancelled or "
        f"refunded on {reversed_on}; reverses {paid} paid; attainment of {orig.period_month:%Y-%m} unchanged",
    )


def cap_share_clawback(cap: Line, share: Decimal, credit: Credit, period: date) -> Line:
    """Gives back the part ``share`` (negative) of a period / year cap line that fell on a cancelled
    credit: the credit's commission lines are reversed in full, this line adds back what the cap
    had withheld from them, so the credit's clawback lines total exactly what was paid for it."""
    credit_id, reversed_on = credit.credit_id, credit.reversed_on
    return Line(
        commission_line_id=f"clawback:{cap.commission_line_id}:{credit_id}",
        line_type="clawback",
        rep_id=cap.rep_id,
        period_month=period,
        deal_id=credit.deal_id,
        credit_id=credit_id,
        credit_kind=credit.kind,
        credit_basis=credit.basis,
        credit_date=credit.credit_date,
        plan_id=cap.plan_id,
        plan_version=cap.plan_version,
        component=cap.component,
        component_type="cap",
        base_amount=-share,
        commission_amount=-share,
        currency=cap.currency,
        related_line_id=cap.commission_line_id,
        source_period=cap.period_month,
        explanation=f"clawback of credit {credit_id}: {-share} of {cap.commission_line_id} "
        f"({cap.period_month:%Y-%m}) was withheld from it by the cap and never paid; only what was paid "
        f"is clawed back (deal cancelled or refunded on {reversed_on})",
    )


def _base_line(
    plan: PlanVersion, comp: Component, rep: Rep, period: date, c: Credit, cur: str, target, attainment
):
    return dict(
        rep_id=rep.rep_id,
        period_month=period,
        deal_id=c.deal_id,
        credit_id=c.credit_id,
        credit_kind=c.kind,
        credit_basis=c.basis,
        credit_date=c.credit_date,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component=comp.component,
        component_type=comp.type,
        tier_position=comp.tier_position if comp.type.startswith("tiered") else None,
        weight=comp.weight,
        credit_amount=c.amount,
        split_share=c.split_share,
        original_amount=c.original_amount,
        original_currency=c.original_currency,
        fx_rate=c.fx_rate,
        target_amount=target,
        attainment=attainment,
        currency=cur,
    )


def _component_lines(plan, comp: Component, rep, period, pcredits, target, attainment, cur) -> list[Line]:
    basis = plan.basis_of(comp)
    credits = [c for c in pcredits if c.kind in comp.kinds and c.basis == basis]
    mult, note = _multiplier(comp, attainment)
    if comp.type == "bonus":
        return _bonus_lines(plan, comp, rep, period, target, attainment, mult, note, cur)
    lines: list[Line] = []
    prefix = f"{plan.plan_id}:v{plan.version}:{comp.component}"
    if comp.type in ("flat", "override"):
        for c in credits:
            amount = money(c.amount * comp.rate * comp.weight * mult)
            lines.append(
                Line(
                    commission_line_id=f"{c.credit_id}:{prefix}:0",
                    line_type="commission",
                    tier_number=0,
                    rate=comp.rate,
                    multiplier=mult,
                    base_amount=c.amount,
                    commission_amount=amount,
                    explanation=f"{comp.type}: {c.amount} x {comp.rate} x weight {comp.weight} x {mult}"
                    + (f"; {note}" if note else ""),
                    **_base_line(plan, comp, rep, period, c, cur, target, attainment),
                )
            )
        return lines

    money_bounds = comp.measure == "monthly_target_attainment"
    has_target = bool(target) if money_bounds else True
    bounds: list[tuple[Decimal, Decimal | None]] = []
    for b in comp.tiers:
        if money_bounds:
            lo = money(b.band_lower * target) if has_target else ZERO
            hi = None if b.band_upper is None else (money(b.band_upper * target) if has_target else None)
        else:
            lo, hi = b.band_lower, b.band_upper
        bounds.append((lo, hi))
    if not has_target:  # no (or a zero) target: the first band's rate on everything
        bounds = [(ZERO, None)] + [(Decimal(-1), Decimal(-1))] * (len(comp.tiers) - 1)

    running = ZERO
    total = sum((c.amount for c in credits), ZERO)
    for c in credits:
        before = ZERO if comp.tier_position == "per_transaction" else running
        after = before + c.amount
        running += c.amount
        common = _base_line(plan, comp, rep, period, c, cur, target, attainment)
        if comp.type == "tiered_retroactive":
            position = c.amount if comp.tier_position == "per_transaction" else total
            i = _band_index(comp.tiers, position, bounds) if has_target else 0
            parts = [(i, c.amount)]
        else:
            parts = []
            for i, (lo, hi) in enumerate(bounds):
                if hi is not None and hi <= lo:
                    continue
                top = after if hi is None or after < hi else hi
                bottom = before if before > lo else lo
                if top - bottom > 0:
                    parts.append((i, top - bottom))
        for i, base in parts:
            band = comp.tiers[i]
            amount = money(base * band.rate * comp.weight * mult)
            upper = band.band_upper if band.band_upper is not None else "open"
            retro = comp.type == "tiered_retroactive"
            where = f"position {position}" if retro else f"running {before} -> {after}"
            lo, hi = bounds[i]
            in_money = f" = [{lo}, {hi if hi is not None else 'open'})" if money_bounds and has_target else ""
            how = (
                f"{comp.type} ({comp.tier_position}): band {i + 1} [{band.band_lower}, {upper}){in_money} "
                f"{where}; "
                f"{base} x {band.rate} x weight {comp.weight} x {mult}"
            )
            lines.append(
                Line(
                    commission_line_id=f"{c.credit_id}:{prefix}:{i + 1}",
                    line_type="commission",
                    tier_number=i + 1,
                    band_lower=band.band_lower,
                    band_upper=band.band_upper,
                    rate=band.rate,
                    multiplier=mult,
                    running_before=before,
                    running_after=after,
                    base_amount=base,
                    commission_amount=amount,
                    explanation=how + (f"; {note}" if note else ""),
                    **common,
                )
            )
    return lines


def _bonus_lines(plan, comp, rep, period, target, attainment, mult, note, cur) -> list[Line]:
    lines = []
    if attainment is None:
        return lines
    for i, m in enumerate(comp.milestones, start=1):
        if attainment < m.attainment:
            continue
        base = m.amount if m.amount is not None else money(m.percent_of_target * target)
        amount = money(base * comp.weight * mult)
        lines.append(
            Line(
                commission_line_id=f"bonus:{rep.rep_id}:{period:%Y-%m}:{plan.plan_id}:v{plan.version}:{comp.component}:{i}",
                line_type="bonus",
                rep_id=rep.rep_id,
                period_month=period,
                plan_id=plan.plan_id,
                plan_version=plan.version,
                component=comp.component,
                component_type="bonus",
                tier_number=i,
                band_lower=m.attainment,
                weight=comp.weight,
                multiplier=mult,
                target_amount=target,
                attainment=attainment,
                base_amount=base,
                commission_amount=amount,
                currency=cur,
                explanation=f"bonus: attainment {attainment} >= {m.attainment}; "
                + (f"{m.amount}" if m.amount is not None else f"{m.percent_of_target} x target {target}")
                + f" x weight {comp.weight} x {mult}"
                + (f"; {note}" if note else ""),
            )
        )
    return lines


def _caps(
    caps: Caps | None, lines: list[Line], plan, component, rep, period, state: _RepState, cur
) -> list[Line]:
    """Cap lines of one scope (a component, or the plan when ``component`` is None).

    ``per_deal`` caps the sum of a credit's lines (the cap line carries the credit). ``per_period``
    and ``per_year`` cut the scope's total; the cut is attributed to credits in credit-date order
    (ties by credit id; lines without a credit, i.e. bonuses, last): the credits earned after the
    cap was reached are the ones not paid. That attribution (``state.cap_shares``) is what a
    clawback gives back, so a clawback reverses only what was actually paid for the credit."""
    if caps is None:
        return []
    out: list[Line] = []
    scope = f"{plan.plan_id}:v{plan.version}:{component or '*'}"
    common = dict(
        rep_id=rep.rep_id,
        period_month=period,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component=component,
        component_type="cap",
        currency=cur,
        line_type="cap",
    )
    if caps.per_deal is not None:
        per_credit: dict[str, list[Line]] = defaultdict(list)
        for ln in lines:
            if ln.credit_id:
                per_credit[ln.credit_id].append(ln)
        for cid, cls in sorted(per_credit.items()):
            total = sum((x.commission_amount for x in cls), ZERO)
            if total > caps.per_deal:
                out.append(
                    Line(
                        commission_line_id=f"cap:deal:{cid}:{scope}",
                        deal_id=cls[0].deal_id,
                        credit_id=cid,
                        credit_kind=cls[0].credit_kind,
                        credit_basis=cls[0].credit_basis,
                        credit_date=cls[0].credit_date,
                        base_amount=total,
                        commission_amount=caps.per_deal - total,
                        band_upper=None,
                        explanation=f"per-deal cap {caps.per_deal}: earned {total}",
                        **common,
                    )
                )
    # what each credit nets in this scope so far (after per-deal caps and the cuts of caps of an
    # inner scope already applied to these lines)
    nets: dict[str | None, Decimal] = defaultdict(lambda: ZERO)
    order: dict[str | None, tuple] = {}
    for ln in lines + out:
        if ln.line_type == "cap" and ln.commission_line_id in state.cap_split:
            for key, share in state.cap_split[ln.commission_line_id].items():
                nets[key] += share
            continue
        key = ln.credit_id
        nets[key] += ln.commission_amount
        order[key] = (0, ln.credit_date, key) if key else (1, date.min, "")
    total = sum(nets.values(), ZERO)

    def cut(line: Line, room: Decimal) -> None:
        split: dict[str | None, Decimal] = {}
        before = ZERO
        for key in sorted(nets, key=lambda k: order.get(k, (1, date.min, ""))):
            net = nets[key]
            paid = min(max(room - before, ZERO), net) if net > 0 else net
            before += net
            if paid != net:
                split[key] = paid - net
                nets[key] = paid
        state.cap_split[line.commission_line_id] = split
        for key, share in split.items():
            if key is not None:
                state.cap_shares[key].append((line, share))

    if caps.per_period is not None and total > caps.per_period:
        line = Line(
            commission_line_id=f"cap:period:{rep.rep_id}:{period:%Y-%m}:{scope}",
            base_amount=total,
            commission_amount=caps.per_period - total,
            explanation=f"per-period cap {caps.per_period}: earned {total}",
            **common,
        )
        cut(line, caps.per_period)
        out.append(line)
        total = caps.per_period
    if caps.per_year is not None:
        fy = fiscal_year_start(period, state.fiscal_year_start_month)
        key = (scope, fy)
        before = state.year_totals[key]
        allowed = max(caps.per_year - before, ZERO)
        if total > allowed:
            line = Line(
                commission_line_id=f"cap:year:{rep.rep_id}:{period:%Y-%m}:{scope}",
                base_amount=total,
                commission_amount=allowed - total,
                explanation=f"per-year cap {caps.per_year} (fiscal year FY{fy.year} from {fy}): "
                f"{before} paid before this period, earned {total}",
                **common,
            )
            cut(line, allowed)
            out.append(line)
            total = allowed
        state.year_totals[key] = before + total
    return out


def _draw(
    plan: PlanVersion, rep: Rep, period: date, period_lines: list[Line], state: _RepState, cur
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


def statement_totals(lines: Iterable[Line]) -> dict[tuple[str, date], Decimal]:
    totals: dict[tuple[str, date], Decimal] = defaultdict(lambda: ZERO)
    for ln in lines:
        totals[(ln.rep_id, ln.period_month)] += ln.commission_amount
    return dict(totals)
