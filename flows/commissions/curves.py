"""Target incentives paid along an attainment curve, and interpolated amount tables.

* ``target_incentive``: the variable pay at 100 % attainment (``target_incentive``, prorated by
  the days the rep is on the plan and employed) x the curve's payout factor at the period's
  attainment: ``stepped`` (the payout of the highest point reached), ``linear`` (interpolated
  between points) or ``marginal`` (each point's ``rate`` per unit of attainment up to the next
  point, summed). Below the first point: nothing (``below_first: zero``, the threshold) or, for a
  linear curve, the line from (0, 0) to the first point (``proportional``). Above the last point:
  its payout (``above_last: cap``) or the last segment's slope (``extrapolate``); a marginal
  curve's last rate runs on. The factor is rounded half-up to 6 decimals, like attainment.
* ``amount_table``: bands ``[band_lower, band_upper)`` each worth ``amount``, earned linearly inside
  the band (Oracle's "interpolated rate"); above the last band, the table's total. Paid per credit
  as ``table(position after) - table(position before)``, each rounded to the cent, so a period's
  lines add up to the table's value at the period's position.

docs/commission_plans.md, "Instruments", has a worked example of each.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from flows.commissions.lines import Credit, Line, Rep
from flows.commissions.money import ZERO, money
from flows.config.commission_plan import Component, PlanVersion
from flows.config.plan_instruments import AmountBand, CurvePoint

FACTOR = Decimal("0.000001")


def payout_factor(comp: Component, attainment: Decimal) -> Decimal:
    """The curve's payout (a multiple of the target incentive) at ``attainment``."""
    points, kind = comp.curve or [], comp.curve_type or "linear"
    if kind == "marginal":
        value = _marginal(points, attainment)
    elif kind == "stepped":
        reached = [p for p in points if attainment >= p.attainment]
        value = reached[-1].payout if reached else ZERO
    else:
        value = _linear(points, attainment, comp.below_first or "zero", comp.above_last or "cap")
    return max(value, ZERO).quantize(FACTOR, rounding=ROUND_HALF_UP)


def _linear(points: list[CurvePoint], a: Decimal, below: str, above: str) -> Decimal:
    first, last = points[0], points[-1]
    if a < first.attainment:
        if below == "proportional" and first.attainment > 0:
            return first.payout * a / first.attainment
        return ZERO
    if a >= last.attainment:
        if above == "extrapolate":
            prev = points[-2]
            slope = (last.payout - prev.payout) / (last.attainment - prev.attainment)
            return last.payout + slope * (a - last.attainment)
        return last.payout
    for lo, hi in pairwise(points):
        if lo.attainment <= a < hi.attainment:
            return lo.payout + (hi.payout - lo.payout) * (a - lo.attainment) / (hi.attainment - lo.attainment)
    return ZERO  # unreachable: the points cover [first, last)


def _marginal(points: list[CurvePoint], a: Decimal) -> Decimal:
    total = ZERO
    for i, p in enumerate(points):
        upper = points[i + 1].attainment if i + 1 < len(points) else None
        if a <= p.attainment:
            break
        top = a if upper is None or a < upper else upper
        total += (top - p.attainment) * p.rate
    return total


def table_value(bands: list[AmountBand], position: Decimal) -> Decimal:
    """Σ the amounts of the bands below ``position`` + the fraction of the band it is in."""
    total = ZERO
    for band in bands:
        if position >= band.band_upper:
            total += band.amount
        elif position > band.band_lower:
            total += band.amount * (position - band.band_lower) / (band.band_upper - band.band_lower)
    return total


def _common(plan: PlanVersion, comp: Component, rep: Rep, period, target, attainment, cur: str) -> dict:
    return dict(
        line_type="bonus",
        rep_id=rep.rep_id,
        period_month=period,
        plan_id=plan.plan_id,
        plan_version=plan.version,
        component=comp.component,
        component_type=comp.type,
        weight=comp.weight,
        target_amount=target,
        attainment=attainment,
        currency=cur,
    )


def incentive_lines(
    plan: PlanVersion, comp: Component, rep: Rep, period, target, attainment, mult, note, cur, share
) -> list[Line]:
    """One line per period: prorated target incentive x payout factor x weight x gate."""
    base = money(comp.target_incentive * share)
    line_id = f"incentive:{rep.rep_id}:{period:%Y-%m}:{plan.plan_id}:v{plan.version}:{comp.component}"
    if attainment is None:  # shown, and warned about (no_target), never silently left out
        return [
            Line(
                commission_line_id=line_id,
                tier_number=0,
                base_amount=base,
                explanation=f"target incentive {base}: no target for the period; nothing paid",
                **_common(plan, comp, rep, period, target, attainment, cur),
            )
        ]
    factor = payout_factor(comp, attainment)
    kind = comp.curve_type or "linear"
    prorated = "" if share == 1 else f" (target incentive {comp.target_incentive} x days share {share:.6f})"
    return [
        Line(
            commission_line_id=line_id,
            tier_number=0,
            rate=factor,
            multiplier=mult,
            base_amount=base,
            commission_amount=money(base * factor * comp.weight * mult),
            explanation=f"target incentive {base}{prorated} x {kind} curve payout {factor} at attainment "
            f"{attainment} x weight {comp.weight} x {mult}" + (f"; {note}" if note else ""),
            **_common(plan, comp, rep, period, target, attainment, cur),
        )
    ]


def table_lines(
    plan: PlanVersion,
    comp: Component,
    rep: Rep,
    period,
    credits: list[Credit],
    target,
    attainment,
    mult,
    note,
    cur,
) -> list[Line]:
    """Per credit: the table's value after the credit minus before it (running), or at the
    credit's own amount (per_transaction); bands on attainment (x target) or on money."""
    on_attainment = comp.measure == "monthly_target_attainment"
    bands = comp.amount_table or []
    if on_attainment and not target:  # shown, and warned about (no_target), never silently left out
        return [
            Line(
                commission_line_id=f"{c.credit_id}:{plan.plan_id}:v{plan.version}:{comp.component}:table",
                deal_id=c.deal_id,
                credit_id=c.credit_id,
                credit_kind=c.kind,
                credit_basis=c.basis,
                credit_date=c.credit_date,
                credit_amount=c.amount,
                base_amount=c.amount,
                explanation="amount table on attainment: no target for the period; nothing paid",
                **_common(plan, comp, rep, period, None, None, cur),
            )
            for c in credits
        ]
    lines, running = [], ZERO
    for c in credits:
        before = ZERO if comp.tier_position == "per_transaction" else running
        after = before + c.amount
        running += c.amount
        pos_before, pos_after = (before / target, after / target) if on_attainment else (before, after)
        value_before = money(table_value(bands, pos_before) * comp.weight * mult)
        value_after = money(table_value(bands, pos_after) * comp.weight * mult)
        band = next((i for i, b in enumerate(bands, start=1) if pos_after < b.band_upper), len(bands))
        lines.append(
            Line(
                commission_line_id=f"{c.credit_id}:{plan.plan_id}:v{plan.version}:{comp.component}:table",
                deal_id=c.deal_id,
                credit_id=c.credit_id,
                credit_kind=c.kind,
                credit_basis=c.basis,
                credit_date=c.credit_date,
                tier_position=comp.tier_position,
                tier_number=band,
                band_lower=bands[band - 1].band_lower,
                band_upper=bands[band - 1].band_upper,
                multiplier=mult,
                credit_amount=c.amount,
                split_share=c.split_share,
                running_before=before,
                running_after=after,
                base_amount=c.amount,
                commission_amount=value_after - value_before,
                explanation=f"amount table: table({_pos(pos_after)}) {value_after} - "
                f"table({_pos(pos_before)}) {value_before} (weight {comp.weight} x {mult})"
                + (f"; {note}" if note else ""),
                **_common(plan, comp, rep, period, target, attainment, cur),
            )
        )
    return lines


def _pos(value: Decimal) -> str:
    return str(value.quantize(FACTOR, rounding=ROUND_HALF_UP).normalize())
