{#- Commission statement lines. Component type tiered_marginal on monthly target attainment:
    a rep's won deals of a month are taken in close-date order (ties by deal id); each deal
    moves the running won amount from `running_before` to `running_after`. Band boundaries in
    money are band x monthly target, rounded half-up to the cent; the part of the deal between
    [lower boundary, upper boundary) earns the band's rate (half-open: an amount exactly on a
    boundary belongs to the higher band). A deal straddling boundaries gives one line per band.
    With no (or a zero) target, the whole deal falls in the first band. commission_amount =
    base_amount x rate x weight, rounded half-up to the cent on each line. -#}
with deals as (
    select * from {{ ref('int_commission_deals') }}
),

tiers as (
    select * from {{ ref('int_commission_plan_tiers') }}
    where component_type = 'tiered_marginal'
),

running as (
    select
        *,
        sum(amount_reporting) over (
            partition by rep_id, period_month
            order by close_date, deal_id
            rows between unbounded preceding and current row
        ) as running_after
    from deals
),

positioned as (
    select
        *,
        running_after - amount_reporting as running_before,
        coalesce(target_amount, 0) > 0 as has_target
    from running
),

bands as (
    select
        d.deal_id,
        d.rep_id,
        d.period_month,
        d.close_date,
        d.amount_reporting as deal_amount,
        d.target_amount,
        d.running_before,
        d.running_after,
        d.plan_id,
        d.plan_version,
        t.component,
        t.weight,
        t.tier_number,
        t.band_lower,
        t.band_upper,
        t.rate,
        case
            when not d.has_target then case when t.tier_number = 1 then d.amount_reporting else 0 end
            else
                (case
                    when t.band_upper is null then d.running_after
                    when d.running_after < {{ round_money('t.band_upper * d.target_amount') }} then d.running_after
                    else {{ round_money('t.band_upper * d.target_amount') }}
                end)
                - (case
                    when d.running_before > {{ round_money('t.band_lower * d.target_amount') }} then d.running_before
                    else {{ round_money('t.band_lower * d.target_amount') }}
                end)
        end as base_amount
    from positioned as d
    inner join tiers as t
        on t.plan_id = d.plan_id
        and t.plan_version = d.plan_version
)

select
    {{ dbt.concat([
        'deal_id', "':'", 'plan_id', "':v'", dbt.cast('plan_version', api.Column.translate_type('string')),
        "':'", 'component', "':'", dbt.cast('tier_number', api.Column.translate_type('string'))
    ]) }} as commission_line_id,
    rep_id,
    deal_id,
    period_month,
    close_date,
    plan_id,
    plan_version,
    component,
    tier_number,
    band_lower,
    band_upper,
    rate,
    weight,
    deal_amount,
    target_amount,
    cast(running_before as decimal(18, 2)) as running_before,
    cast(running_after as decimal(18, 2)) as running_after,
    cast(base_amount as decimal(18, 2)) as base_amount,
    {{ round_money('base_amount * rate * weight') }} as commission_amount,
    {{ reporting_currency() }} as currency
from bands
where base_amount > 0
