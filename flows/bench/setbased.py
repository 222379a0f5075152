"""The set-based baseline of the commission engine: one DuckDB query that pays the plan's lines.

It reproduces the engine's ``commission`` lines for plans whose components are ``flat`` or
``tiered_marginal`` with a ``running`` position on monthly target attainment, assigned by role
(the shipped ``config/commission_plan.yml``): each credit of a rep-month, in (credit date, credit
id) order, crosses the bands ``[round(lower x target, 2), round(upper x target, 2))`` of the
month's target from the running total before it to the running total after it, and each band
crossed pays ``round(part x rate x weight, 2)``; no target pays the first band's rate on
everything; a flat component pays ``round(amount x rate x weight, 2)`` per credit; credits after
the rep left pay nothing (docs/commission_engine.md). Caps, clawbacks and draws are not part of
it: the benchmark compares the ``commission`` lines only. Any other plan shape is refused with
the plan and component named, never approximated.
"""

from __future__ import annotations

from flows.config.commission_plan import Component, PlanBook, PlanVersion

CREDITS = "intermediate.int_credit_lines"
MONTHS = "intermediate.int_commission_rep_months"


class UnsupportedPlan(ValueError):
    """The plan uses a mechanic the baseline does not reproduce."""


def _check(plan: PlanVersion, comp: Component) -> None:
    where = f"plan {plan.plan_id} v{plan.version} component {comp.component}"
    if comp.type not in ("flat", "tiered_marginal"):
        raise UnsupportedPlan(f"{where}: type {comp.type} (the baseline does flat and tiered_marginal)")
    if comp.gate is not None or comp.accelerators or not comp.measured_monthly:
        raise UnsupportedPlan(
            f"{where}: gates, accelerators and longer measurement periods are not reproduced"
        )
    if comp.type == "tiered_marginal" and (
        comp.tier_position != "running" or comp.measure != "monthly_target_attainment"
    ):
        raise UnsupportedPlan(f"{where}: only a running position on monthly target attainment")


def _plan_case(book: PlanBook) -> str:
    """``case`` giving each credit its plan version key, as ``PlanBook.plan_for`` would by role."""
    whens = []
    for a in book.assignments or []:
        if a.role is None:
            raise UnsupportedPlan(
                f"assignment of {a.plan_id} to {a.rep_email or a.rep_id}: only role assignments"
            )
        for p in (p for p in book.plans if p.plan_id == a.plan_id):
            starts = max(a.valid_from, p.effective_from)
            ends = [d for d in (a.valid_to, p.effective_to) if d is not None]
            until = f" and credit_date < date '{min(ends)}'" if ends else ""
            whens.append(
                f"when role = '{a.role}' and credit_date >= date '{starts}'{until} "
                f"then '{p.plan_id}:v{p.version}'"
            )
    if not whens:
        raise UnsupportedPlan("the plan book has no assignments")
    return "case " + " ".join(whens) + " end"


def _component_sql(plan: PlanVersion, comp: Component) -> str:
    _check(plan, comp)
    key = f"{plan.plan_id}:v{plan.version}"
    kinds = ", ".join(f"'{k}'" for k in comp.kinds)
    picked = (
        f"select * from planned where plan_key = '{key}' and kind in ({kinds}) "
        f"and basis = '{plan.basis_of(comp)}'"
    )
    label = f"'{plan.plan_id}', {plan.version}, '{comp.component}'"
    weight = f"{comp.weight}::decimal(18, 6)"
    if comp.type == "flat":
        return (
            f"select {label}, count(*) as lines, "
            f"sum(round(amount * {comp.rate}::decimal(18, 6) * {weight}, 2)) as paid from ({picked})"
        )
    bands = ", ".join(
        f"({i + 1}, {b.band_lower}::decimal(18, 6), "
        f"{'null' if b.band_upper is None else f'{b.band_upper}::decimal(18, 6)'}, {b.rate}::decimal(18, 6))"
        for i, b in enumerate(comp.tiers or [])
    )
    return f"""
        select {label}, count(*) as lines, sum(round(part * rate * {weight}, 2)) as paid from (
            select
                bands.rate,
                least(r.after, coalesce(bounds.hi, r.after)) - greatest(r.before, bounds.lo) as part
            from (
                select p.*, p.before + p.amount as after, t.target_amount
                from (
                    select *, coalesce(sum(amount) over (
                        partition by rep_id, period_month order by credit_date, credit_id
                        rows between unbounded preceding and 1 preceding), 0) as before
                    from ({picked})
                ) as p
                left join targets as t using (rep_id, period_month)
            ) as r
            cross join (values {bands}) as bands (tier, band_lower, band_upper, rate)
            cross join lateral (
                select
                    case when coalesce(r.target_amount, 0) = 0 then (case when bands.tier = 1 then 0 end)
                        else round(bands.band_lower * r.target_amount, 2) end as lo,
                    case when coalesce(r.target_amount, 0) = 0 or bands.band_upper is null then null
                        else round(bands.band_upper * r.target_amount, 2) end as hi
            ) as bounds
            where bounds.lo is not null
        ) where part > 0"""


def baseline_sql(book: PlanBook) -> str:
    """One query: (plan_id, plan_version, component, lines, paid) for every component of the book."""
    parts = [_component_sql(plan, comp) for plan in book.plans for comp in plan.components]
    return f"""
        with reps as (
            select rep_id, any_value(role) as role, any_value(left_on) as left_on
            from {MONTHS} group by rep_id
        ),
        targets as (
            select rep_id, period_month, target_amount from {MONTHS} where target_amount is not null
        ),
        credits as (
            select c.credit_id, c.rep_id, c.credit_date, c.credit_amount as amount, c.credit_kind as kind,
                c.credit_basis as basis, date_trunc('month', c.credit_date)::date as period_month, r.role
            from {CREDITS} as c join reps as r using (rep_id)
            where r.left_on is null or c.credit_date <= r.left_on
        ),
        planned as (select *, {_plan_case(book)} as plan_key from credits)
        {" union all ".join(f"select * from ({p})" for p in parts)}
    """
