"""SPIFs: a fixed amount per qualifying deal (docs/commission_plans.md, "Instruments").

A credit qualifies when it passes every filter of the component (product, segment, industry, deal
size, credit-date window; :class:`flows.config.plan_instruments.SpifFilters`). It pays
``amount_per_deal x split_share x weight`` (a split deal pays the amount once in all), as a
``bonus`` line linked to the credit, so a cancelled deal's SPIF is clawed back with it. The deal
size is the whole deal in the plan currency (``original_amount x fx_rate``; the credited amount
when the credit carries no original amount).
"""

from __future__ import annotations

from dataclasses import replace
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


def with_deal_attributes(conn, credits: list[Credit]) -> list[Credit]:
    """The nightly's credits with what SPIF filters look at: ``product`` (``fct_deals.product_name``)
    and ``industry`` (the account's ``dim_customers.industry_standard``, else its CRM spelling).
    Stable attributes of the deal only: the RFM segment changes every day, so a ``segments`` filter
    is for ``commissions estimate`` (its credits CSV), where it is given with the credit."""
    from flows.commissions.tables import find_table

    deals, customers = find_table(conn, "marts", "fct_deals"), find_table(conn, "marts", "dim_customers")
    if deals is None or "product_name" not in _columns(conn, deals):
        return credits
    industry, join = "cast(null as varchar)", ""
    if customers and {"account_id", "industry_standard"} <= _columns(conn, customers):
        industry = "coalesce(c.industry_standard, c.industry)"
        join = f"left join {customers} as c on c.account_id = d.account_id"
    sql = f"select d.deal_id, d.product_name, {industry} from {deals} as d {join}"
    found = {deal: (product, ind) for deal, product, ind in conn.execute(sql).fetchall()}
    out = []
    for c in credits:
        product, ind = found.get(c.deal_id, (None, None))
        tags = tuple((k, str(v)) for k, v in (("product", product), ("industry", ind)) if v)
        out.append(replace(c, attributes=tags) if tags else c)
    return out


def _columns(conn, table: str) -> set[str]:
    return {d[0] for d in conn.execute(f"select * from {table} limit 0").description}
