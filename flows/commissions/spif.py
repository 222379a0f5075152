"""SPIFs: a fixed amount per qualifying deal (docs/commission_plans.md, "Instruments").

A credit qualifies when it passes every filter of the component (product, segment, industry, deal
size, credit-date window; :class:`flows.config.plan_instruments.SpifFilters`). It pays
``amount_per_deal x split_share x weight`` (a split deal pays the amount once in all), as a
``bonus`` line linked to the credit, so a cancelled deal's SPIF is clawed back with it. The deal
size is the whole deal in the plan currency (``original_amount x fx_rate``; the credited amount
when the credit carries no original amount).
"""

from __future__ import annotations

from decimal import Decimal

from flows.commissions.lines import Credit, Line, Rep, credit_line_fields
from flows.commissions.money import money
from flows.config.commission_plan import Component, PlanVersion


def deal_amount(c: Credit) -> Decimal:
    if c.original_amount is None:
        return c.amount
    return money(c.original_amount * (c.fx_rate or Decimal(1)))


def qualifies(comp: Component, c: Credit) -> bool:
    if comp.filters is None:
        return True
    return comp.filters.matches(dict(c.attributes), deal_amount(c), c.credit_date)


def spif_lines(
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
    lines = []
    for c in credits:
        if not qualifies(comp, c):
            continue
        amount = money(comp.amount_per_deal * c.split_share * comp.weight * mult)
        tags = ", ".join(f"{k} {v}" for k, v in c.attributes)
        lines.append(
            Line(
                commission_line_id=f"{c.credit_id}:{plan.plan_id}:v{plan.version}:{comp.component}:spif",
                line_type="bonus",
                **credit_line_fields(plan, comp, rep, period, c, cur, target, attainment),
                tier_number=0,
                multiplier=mult,
                base_amount=comp.amount_per_deal,
                commission_amount=amount,
                explanation=f"spif: qualifying deal {c.deal_id} (deal amount {deal_amount(c)}"
                + (f"; {tags}" if tags else "")
                + f"): {comp.amount_per_deal} x split {c.split_share} x weight {comp.weight} x {mult}"
                + (f"; {note}" if note else ""),
            )
        )
    return lines
