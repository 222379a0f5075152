"""Commission and bonus lines of one plan component: flat / override, tiered (marginal or
retroactive), attainment gates and accelerators, milestone bonuses.

Bands are half-open ``[lower, upper)``; band boundaries in money are ``band x target``, rounded
half-up to the cent (docs/commission_engine.md).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from flows.commissions.curves import incentive_lines, table_lines
from flows.commissions.lines import CreditLineMaker, Line
from flows.commissions.money import ZERO, money
from flows.commissions.spif import spif_lines
from flows.config.commission_plan import Component


def _band_index(bands, position: Decimal, bounds: list[tuple[Decimal, Decimal | None]]) -> int:
    """Index of the half-open band holding ``position`` (a boundary belongs to the higher band)."""
    for i, (lower, upper) in enumerate(bounds):
        if position >= lower and (upper is None or position < upper):
            return i
    return 0


def attainment_of(total: Decimal, target: Decimal | None) -> Decimal | None:
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


def component_lines(
    plan, comp: Component, rep, period, pcredits, target, attainment, cur, share: Decimal = Decimal(1)
) -> list[Line]:
    """The lines one component pays on the period's credits (or, for a bonus, on attainment).
    ``share``: the part of the period the rep is employed and on the plan (a target incentive's
    proration, :mod:`flows.commissions.proration`)."""
    basis = plan.basis_of(comp)
    credits = [
        c
        for c in pcredits
        if c.kind in comp.kinds
        and c.basis == basis
        and (c.kind != "rollup" or c.rollup_level in comp.rollup_levels)
    ]
    if comp.attainment_on == "component":  # e.g. a team quota measured on roll-up credit
        attainment = attainment_of(sum((c.amount for c in credits), ZERO), target)
    mult, note = _multiplier(comp, attainment)
    if comp.type == "spif":
        return spif_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur)
    if comp.type == "target_incentive":
        return incentive_lines(plan, comp, rep, period, target, attainment, mult, note, cur, share)
    if comp.type == "amount_table":
        return table_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur)
    if comp.type == "bonus":
        return _bonus_lines(plan, comp, rep, period, target, attainment, mult, note, cur)
    if comp.type in ("flat", "override"):
        return _flat_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur)
    return _tiered_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur)


def _flat_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur) -> list[Line]:
    prefix = f"{plan.plan_id}:v{plan.version}:{comp.component}"
    make = CreditLineMaker(plan, comp, rep, period, cur, target, attainment)
    tier, unmoved = (0, None, None, comp.rate), (None, None)
    rate, weight = comp.rate, comp.weight
    # the explanation's parts that are the same for every credit, formatted once (str() of each
    # Decimal per line was a good part of the line's cost): the text is the same as formatting
    # it whole, ``f"{comp.type}: {c.amount} x {rate} x weight {weight} x {mult}; {note}"``
    head = f"{comp.type}: "
    tail = f" x {rate} x weight {weight} x {mult}" + (f"; {note}" if note else "")
    ids = f":{prefix}:0"
    line = make.line
    lines: list[Line] = []
    for c in credits:
        amount = money(c.amount * rate * weight * mult)
        lines.append(
            line(c, f"{c.credit_id}{ids}", tier, mult, unmoved, c.amount, amount, f"{head}{c.amount}{tail}")
        )
    return lines


def _tier_bounds(comp: Component, target) -> tuple[bool, bool, list[tuple[Decimal, Decimal | None]]]:
    """(bands in money?, has a target?, each band's [lower, upper) in the position's unit)."""
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
    return money_bounds, has_target, bounds


def _marginal_parts(
    bounds: list[tuple[Decimal, Decimal | None]], before: Decimal, after: Decimal
) -> list[tuple[int, Decimal]]:
    """(band index, amount) for each band the running position crosses from ``before`` to ``after``."""
    parts = []
    for i, (lo, hi) in enumerate(bounds):
        if hi is not None and hi <= lo:
            continue
        top = after if hi is None or after < hi else hi
        bottom = before if before > lo else lo
        if top - bottom > 0:
            parts.append((i, top - bottom))
    return parts


def _tiered_lines(plan, comp, rep, period, credits, target, attainment, mult, note, cur) -> list[Line]:
    prefix = f"{plan.plan_id}:v{plan.version}:{comp.component}"
    money_bounds, has_target, bounds = _tier_bounds(comp, target)
    retro = comp.type == "tiered_retroactive"
    per_transaction = comp.tier_position == "per_transaction"
    make = CreditLineMaker(plan, comp, rep, period, cur, target, attainment)
    line = make.line
    weight = comp.weight
    # what a band's lines share, formatted once per band instead of once per line: the tier, the
    # id's tail and the explanation's text before and after the credit's own figures (the same
    # text as formatting it whole, test_engine_shortcuts.py)
    bands = []
    for i, band in enumerate(comp.tiers):
        upper = band.band_upper if band.band_upper is not None else "open"
        lo, hi = bounds[i]
        in_money = f" = [{lo}, {hi if hi is not None else 'open'})" if money_bounds and has_target else ""
        head = f"{comp.type} ({comp.tier_position}): band {i + 1} [{band.band_lower}, {upper}){in_money} "
        tail = f" x {band.rate} x weight {weight} x {mult}" + (f"; {note}" if note else "")
        tier = (i + 1, band.band_lower, band.band_upper, band.rate)
        bands.append((band.rate, head, tail, tier, f":{prefix}:{i + 1}"))
    lines: list[Line] = []
    running = ZERO
    total = sum((c.amount for c in credits), ZERO)
    for c in credits:
        before = ZERO if per_transaction else running
        after = before + c.amount
        running += c.amount
        moved = (before, after)
        position = c.amount if per_transaction else total
        if retro:
            i = _band_index(comp.tiers, position, bounds) if has_target else 0
            parts = [(i, c.amount)]
            where = f"position {position}; "
        else:
            parts = _marginal_parts(bounds, before, after)
            where = f"running {before} -> {after}; "
        for i, base in parts:
            rate, head, tail, tier, ids = bands[i]
            amount = money(base * rate * weight * mult)
            how = f"{head}{where}{base}{tail}"
            lines.append(line(c, f"{c.credit_id}{ids}", tier, mult, moved, base, amount, how))
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
