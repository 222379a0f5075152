{#- Every configured target (rep, team, region, company) decomposed to calendar months.
    Year and quarter targets are spread equally over their months (each month rounded to the
    cent, the last month takes the remainder so the months add up exactly). When a scope has
    targets at several grains for the same month, the finest grain wins (month > quarter >
    year). Amounts are also converted into the reporting currency at the month's rate. -#}
with targets as (
    select
        *,
        {{ dbt.datediff('period_start', 'period_end', 'month') }} as months_in_period
    from {{ ref('stg_salesops_config__targets') }}
),

month_numbers as (
    {{ dbt.generate_series(12) }}
),

exploded as (
    select
        t.scope_type,
        t.scope_key,
        t.grain,
        t.period,
        t.currency,
        t.target_amount as period_target_amount,
        t.months_in_period,
        n.generated_number as month_number,
        cast({{ dbt.dateadd('month', 'n.generated_number - 1', 't.period_start') }} as date) as period_month,
        case
            when n.generated_number < t.months_in_period
                then {{ round_money('t.target_amount / t.months_in_period') }}
            else t.target_amount
                - (t.months_in_period - 1) * {{ round_money('t.target_amount / t.months_in_period') }}
        end as target_amount,
        case t.grain when 'month' then 1 when 'quarter' then 2 else 3 end as grain_rank
    from targets as t
    inner join month_numbers as n on n.generated_number <= t.months_in_period
),

ranked as (
    select
        *,
        row_number() over (
            partition by scope_type, scope_key, period_month order by grain_rank
        ) as grain_choice
    from exploded
),

rates as (
    select * from {{ ref('int_exchange_rates_dated') }}
)

select
    r.scope_type,
    r.scope_key,
    r.period_month,
    r.grain as source_grain,
    r.period as source_period,
    r.target_amount,
    r.currency,
    {{ round_money('r.target_amount * x.rate_to_reporting') }} as target_amount_reporting,
    {{ reporting_currency() }} as reporting_currency
from ranked as r
left join rates as x
    on x.currency = r.currency
    and x.valid_from <= r.period_month
    and (x.valid_to is null or r.period_month < x.valid_to)
where r.grain_choice = 1
