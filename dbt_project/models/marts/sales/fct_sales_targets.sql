{#- Rep x month: the rep's target (prorated by days active when hired or leaving in the month),
    won amount with a close date in the month, and attainment. Rows exist for every month with
    a target or a won deal. Team and region are the rep's current ones. -#}
with reps as (
    select * from {{ ref('dim_sales_reps') }}
),

rep_targets as (
    select
        r.rep_id,
        t.period_month,
        t.target_amount_reporting as full_target_amount
    from {{ ref('int_targets_monthly') }} as t
    inner join reps as r on r.email = t.scope_key
    where t.scope_type = 'rep'
),

actuals as (
    select
        rep_id,
        {{ month_start('close_date') }} as period_month,
        sum(amount_reporting) as actual_amount,
        count(*) as deals_won
    from {{ ref('fct_deals') }}
    where is_won and close_date is not null
    group by 1, 2
),

spine as (
    select rep_id, period_month from rep_targets
    union
    select rep_id, period_month from actuals
),

sized as (
    select
        s.rep_id,
        s.period_month,
        t.full_target_amount,
        cast({{ dbt.dateadd('month', 1, 's.period_month') }} as date) as next_month,
        case when r.hired_on > s.period_month then r.hired_on else s.period_month end as active_from,
        r.left_on,
        r.team_name,
        r.region_name
    from spine as s
    inner join reps as r on r.rep_id = s.rep_id
    left join rep_targets as t on t.rep_id = s.rep_id and t.period_month = s.period_month
),

prorated as (
    select
        *,
        {{ dbt.datediff('period_month', 'next_month', 'day') }} as days_in_month,
        -- active days = [max(hired_on, month start), min(left_on + 1 day, next month start))
        {{ dbt.datediff(
            'active_from',
            'case when left_on is not null and left_on < next_month then '
                ~ 'cast(' ~ dbt.dateadd('day', 1, 'left_on') ~ ' as date) else next_month end',
            'day') }} as active_days
    from sized
),

final as (
    select
        p.rep_id,
        p.period_month,
        p.team_name,
        p.region_name,
        p.full_target_amount,
        p.days_in_month,
        case when p.active_days < 0 then 0 else p.active_days end as active_days,
        case
            when p.full_target_amount is null then null
            when p.active_days >= p.days_in_month then p.full_target_amount
            when p.active_days <= 0 then cast(0 as decimal(18, 2))
            else {{ round_money('p.full_target_amount * p.active_days / p.days_in_month') }}
        end as target_amount,
        coalesce(a.actual_amount, 0) as actual_amount,
        coalesce(a.deals_won, 0) as deals_won
    from prorated as p
    left join actuals as a on a.rep_id = p.rep_id and a.period_month = p.period_month
)

select
    rep_id,
    period_month,
    team_name,
    region_name,
    full_target_amount,
    days_in_month,
    active_days,
    target_amount,
    cast(actual_amount as decimal(18, 2)) as actual_amount,
    deals_won,
    {{ safe_ratio('actual_amount', 'target_amount') }} as attainment,
    {{ reporting_currency() }} as currency
from final
