"""The set-based baseline of the commission engine: one DuckDB query that writes the plan's lines.

It reproduces the engine's ``commission`` lines, every column of ``finance.commission_lines``
(the explanation's text included), for plans whose components are ``flat`` or
``tiered_marginal`` with a ``running`` position on monthly target attainment, assigned by role
(the shipped ``config/commission_plan.yml``): each credit of a rep-month, in (credit date, credit
id) order, crosses the bands ``[round(lower x target, 2), round(upper x target, 2))`` of the
month's target from the running total before it to the running total after it, and each band
crossed pays ``round(part x rate x weight, 2)``; no target pays the first band's rate on
everything; a flat component pays ``round(amount x rate x weight, 2)`` per credit; credits after
the rep left pay nothing; attainment is the plan's direct credits of its own basis over the
target, half-up to six places (docs/commission_engine.md). Caps, clawbacks and draws are not part
of it: the benchmark compares the ``commission`` lines only. Any other plan shape is refused with
the plan and component named, never approximated.

The text a component's lines share (its type, rate, weight, each band's bounds) is formatted here
once, as the engine formats it once per component and band; each line's own figures are DuckDB's
text of its decimals, which is Python's ``str`` of the same ``Decimal`` (scale kept).
"""

from __future__ import annotations

from flows.commissions.lines import LINE_COLUMNS
from flows.config.commission_plan import Component, PlanBook, PlanVersion

CREDITS = "intermediate.int_credit_lines"
MONTHS = "intermediate.int_commission_rep_months"
TABLE = "main.bench_setbased_lines"


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
    if comp.attainment_on != "direct" or comp.kinds != ("direct",):
        raise UnsupportedPlan(f"{where}: only direct credits, attainment on the plan's direct credits")
    if comp.type == "tiered_marginal" and (
        comp.tier_position != "running" or comp.measure != "monthly_target_attainment"
    ):
        raise UnsupportedPlan(f"{where}: only a running position on monthly target attainment")


def _text(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


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
                f"when role = {_text(a.role)} and credit_date >= date '{starts}'{until} "
                f"then {_text(f'{p.plan_id}:v{p.version}')}"
            )
    if not whens:
        raise UnsupportedPlan("the plan book has no assignments")
    return "case " + " ".join(whens) + " end"


def _common(plan: PlanVersion, comp: Component, cur: str) -> str:
    """The columns every line of the component carries, from the credit and its rep-month."""
    return (
        f"'commission' as line_type, rep_id, period_month, deal_id, credit_id, kind as credit_kind, "
        f"basis as credit_basis, credit_date, {_text(plan.plan_id)} as plan_id, "
        f"{plan.version} as plan_version, "
        f"{_text(comp.component)} as component, {_text(comp.type)} as component_type, "
        f"{comp.weight}::decimal(18, 6) as weight, 1 as multiplier, amount as credit_amount, split_share, "
        f"original_amount, original_currency, fx_rate, target_amount, attainment, {_text(cur)} as currency, "
        "null as related_line_id, null as source_period"
    )


def _component_sql(plan: PlanVersion, comp: Component, cur: str) -> str:
    _check(plan, comp)
    key = f"{plan.plan_id}:v{plan.version}"
    ids = _text(f":{key}:{comp.component}:")
    kinds = ", ".join(_text(k) for k in comp.kinds)
    picked = (
        f"select * from attained where plan_key = {_text(key)} and kind in ({kinds}) "
        f"and basis = {_text(plan.basis_of(comp))}"
    )
    weight = f"{comp.weight}::decimal(18, 6)"
    if comp.type == "flat":
        tail = f" x {comp.rate} x weight {comp.weight} x 1"
        return f"""
            select credit_id || {ids} || '0' as commission_line_id, {_common(plan, comp, cur)},
                null as tier_position, 0 as tier_number, null as band_lower, null as band_upper,
                {comp.rate}::decimal(18, 6) as rate, null as running_before, null as running_after,
                amount as base_amount,
                round(amount * {comp.rate}::decimal(18, 6) * {weight}, 2) as commission_amount,
                'flat: ' || amount::varchar || {_text(tail)} as explanation
            from ({picked})"""
    bands = []
    for i, b in enumerate(comp.tiers or []):
        upper = "open" if b.band_upper is None else b.band_upper
        head = f"{comp.type} ({comp.tier_position}): band {i + 1} [{b.band_lower}, {upper})"
        bounds = f"{b.band_lower}::decimal(18, 6), " + (
            "null" if b.band_upper is None else f"{b.band_upper}::decimal(18, 6)"
        )
        tail = f" x {b.rate} x weight {comp.weight} x 1"
        bands.append(f"({i + 1}, {bounds}, {b.rate}::decimal(18, 6), {_text(head)}, {_text(tail)})")
    return f"""
        select credit_id || {ids} || tier as commission_line_id, {_common(plan, comp, cur)},
            {_text(comp.tier_position)} as tier_position, tier as tier_number, band_lower, band_upper, rate,
            before as running_before, after as running_after, part as base_amount,
            round(part * rate * {weight}, 2) as commission_amount,
            head || (case when has_target
                then ' = [' || lo::varchar || ', ' || coalesce(hi::varchar, 'open') || ')' else '' end)
                || ' running ' || before::varchar || ' -> ' || after::varchar || '; '
                || part::varchar || tail as explanation
        from (
            select r.*, bands.*, bounds.*,
                least(r.after, coalesce(bounds.hi, r.after)) - greatest(r.before, bounds.lo) as part
            from (
                select *, before + amount as after, coalesce(target_amount, 0) <> 0 as has_target
                from (
                    select *, coalesce(sum(amount) over (
                        partition by rep_id, period_month order by credit_date, credit_id
                        rows between unbounded preceding and 1 preceding), 0.00) as before
                    from ({picked})
                )
            ) as r
            cross join (values {", ".join(bands)}) as bands (tier, band_lower, band_upper, rate, head, tail)
            cross join lateral (
                select
                    case when not r.has_target then (case when bands.tier = 1 then 0.00 end)
                        else round(bands.band_lower * r.target_amount, 2) end as lo,
                    case when not r.has_target or bands.band_upper is null then null
                        else round(bands.band_upper * r.target_amount, 2) end as hi
            ) as bounds
            where bounds.lo is not null and (bounds.hi is null or bounds.hi > bounds.lo)
        ) where part > 0"""


def _credit_on_case(book: PlanBook) -> str:
    """``case`` giving each plan version key the basis its attainment is measured on."""
    whens = " ".join(
        f"when {_text(f'{p.plan_id}:v{p.version}')} then {_text(p.credit_on)}" for p in book.plans
    )
    return f"case plan_key {whens} end"


# attainment as the engine's ``attainment_of``: total / target half-up (away from zero) to six
# places, in exact integer arithmetic (DuckDB divides decimals in floating point)
_ATTAINMENT = """
    case when coalesce(t.target_amount, 0) = 0 then null else (
        sign(d.direct_total) * sign(t.target_amount)
        * ((2 * abs((d.direct_total * 1000000)::hugeint) * 1000000
            + abs((t.target_amount * 1000000)::hugeint))
            // (2 * abs((t.target_amount * 1000000)::hugeint)))
    )::decimal(38, 0) * 0.000001 end"""


def baseline_sql(book: PlanBook, currency: str | None = None) -> str:
    """One query: the ``commission`` lines of every component of the book, in the columns (and
    column order) of ``finance.commission_lines``. ``currency``: the reporting currency the
    engine is given (default each plan's own)."""
    parts = [
        _component_sql(plan, comp, currency or plan.currency)
        for plan in book.plans
        for comp in plan.components
    ]
    columns = ", ".join(LINE_COLUMNS)
    return f"""
        with reps as (
            select rep_id, any_value(role) as role, any_value(left_on) as left_on
            from {MONTHS} group by rep_id
        ),
        targets as (
            select rep_id, period_month, target_amount from {MONTHS} where target_amount is not null
        ),
        credits as (
            select c.credit_id, c.deal_id, c.rep_id, c.credit_date, c.credit_amount as amount,
                c.credit_kind as kind, c.credit_basis as basis, c.split_share, c.original_amount,
                c.original_currency, c.fx_rate, date_trunc('month', c.credit_date)::date as period_month,
                r.role
            from {CREDITS} as c join reps as r using (rep_id)
            where r.left_on is null or c.credit_date <= r.left_on
        ),
        planned as (select *, {_plan_case(book)} as plan_key from credits),
        direct_totals as (
            select rep_id, period_month, plan_key,
                coalesce(sum(amount) filter (where kind = 'direct' and basis = {_credit_on_case(book)}), 0)
                    as direct_total
            from planned group by all
        ),
        attained as (
            select p.*, t.target_amount, {_ATTAINMENT} as attainment
            from planned as p
            join direct_totals as d using (rep_id, period_month, plan_key)
            left join targets as t using (rep_id, period_month)
        )
        {" union all ".join(f"select {columns} from ({p})" for p in parts)}
    """
