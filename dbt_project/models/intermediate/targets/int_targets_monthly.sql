{#- Every configured target (rep, team, region, company) decomposed to calendar months.

    Month targets are taken as entered. Year and quarter targets are split over their months by
    settings.yml target_month_split:
      equal         every month weighs 1;
      distribution  each month weighs its fiscal month's share_pct (monthly_distribution.csv,
                    validated to total 100 %); a quarter uses its three months' shares;
      working_days  each month weighs its working days in the scope's country (config.calendar).
    When the weights of a period add up to 0 the months weigh equally.
    Rounding is cumulative: month i gets round(total x W(1..i) / W) - round(total x W(1..i-1) / W)
    (half-up to the cent), so the months add up to the entered target exactly.
    When a scope has targets at several grains for the same month the finest grain wins
    (month > quarter > year). Amounts are converted into the reporting currency at the
    month's rate. -#}
with targets as (
    select * from {{ ref('stg_salesops_config__targets') }}
),

scopes as (
    select * from {{ ref('int_target_scopes') }}
),

settings as (
    select * from {{ ref('stg_salesops_config__target_settings') }}
),

calendar as (
    select * from {{ ref('stg_salesops_config__calendar') }}
),

months as (
    select distinct
        period_month,
        fiscal_month
    from calendar
),

working_days as (
    select
        country_code,
        period_month,
        sum(case when is_working_day then 1 else 0 end) as working_days
    from calendar
    group by country_code, period_month
),

distribution as (
    select * from {{ ref('stg_salesops_config__monthly_distribution') }}
),

exploded as (
    select
        t.scope_type,
        t.scope_key,
        t.grain,
        t.period,
        t.currency,
        t.target_amount as period_target_amount,
        m.period_month,
        case
            when t.grain = 'month' then 'entered'
            else settings.target_month_split
        end as month_split,
        cast(case
            when t.grain = 'month' then 1
            when settings.target_month_split = 'distribution' then d.share_pct
            when settings.target_month_split = 'working_days' then w.working_days
            else 1
        end as decimal(18, 4)) as raw_weight,
        case t.grain when 'month' then 1 when 'quarter' then 2 else 3 end as grain_rank
    from targets as t
    cross join settings
    inner join months as m
        on
            m.period_month >= t.period_start
            and m.period_month < t.period_end
    left join scopes as s
        on
            s.scope_type = t.scope_type
            and s.scope_key = t.scope_key
    left join distribution as d
        on d.fiscal_month = m.fiscal_month
    left join working_days as w
        on
            w.country_code = s.country_code
            and w.period_month = m.period_month
),

totals as (
    select
        *,
        sum(coalesce(raw_weight, 0)) over (
            partition by scope_type, scope_key, grain, period
        ) as raw_total
    from exploded
),

weighted as (
    select
        *,
        cast(case when raw_total > 0 then coalesce(raw_weight, 0) else 1 end as decimal(18, 4))
            as month_weight
    from totals
),

cumulated as (
    select
        *,
        sum(month_weight) over (partition by scope_type, scope_key, grain, period) as total_weight,
        sum(month_weight) over (
            partition by scope_type, scope_key, grain, period
            order by period_month
            rows between unbounded preceding and current row
        ) as cum_weight
    from weighted
),

split as (
    select
        *,
        {{ round_money('period_target_amount * cum_weight / total_weight') }}
        - {{ round_money('period_target_amount * (cum_weight - month_weight) / total_weight') }}
            as target_amount
    from cumulated
),

ranked as (
    select
        *,
        row_number() over (
            partition by scope_type, scope_key, period_month order by grain_rank
        ) as grain_choice
    from split
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
    r.month_split,
    r.month_weight,
    cast(r.target_amount as decimal(18, 2)) as target_amount,
    r.currency,
    {{ round_money('r.target_amount * x.rate_to_reporting') }} as target_amount_reporting,
    {{ reporting_currency() }} as reporting_currency
from ranked as r
left join rates as x
    on
        x.currency = r.currency
        and x.valid_from <= r.period_month
        and (x.valid_to is null or x.valid_to > r.period_month)
where r.grain_choice = 1
