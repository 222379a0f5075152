{#- Rep x month targets and actuals (reporting currency): the columns fct_sales_targets had
    before it moved to day grain (rep_id, period_month, target_amount, actual_amount,
    attainment ...), read by fct_rep_scorecard, commissions and the reports.
    target_amount = the days of fct_sales_targets' decomposition summed (int_targets_daily):
    the month target prorated by calendar days active when the rep joined or left during the
    month; null when no target is configured. actual_amount = won amount_reporting with
    close_date in the month (every month, also outside the target calendar). Rows exist for
    every rep-month with a target or a won deal. Team/region are the rep's current ones. -#}
with reps as (
    select * from {{ ref('dim_sales_reps') }}
),

rep_targets as (
    select
        rep_id,
        period_month,
        max(month_target_amount) as full_target_amount,
        max(days_in_month) as days_in_month,
        max(active_days) as active_days,
        sum(target_amount) as target_amount
    from {{ ref('int_targets_daily') }}
    where scope_type = 'rep' and rep_id is not null
    group by rep_id, period_month
),

actuals as (
    select
        rep_id,
        {{ month_start('close_date') }} as period_month,
        sum(amount_reporting) as actual_amount,
        count(*) as deals_won
    from {{ ref('fct_deals') }}
    where is_won and close_date is not null
    group by rep_id, {{ month_start('close_date') }}
),

spine as (
    select
        rep_id,
        period_month
    from rep_targets
    union
    select
        rep_id,
        period_month
    from actuals
)

select
    s.rep_id,
    s.period_month,
    r.team_name,
    r.region_name,
    cast(t.full_target_amount as decimal(18, 2)) as full_target_amount,
    coalesce(
        t.days_in_month,
        {{ dbt.datediff('s.period_month', dbt.dateadd('month', 1, 's.period_month'), 'day') }}
    ) as days_in_month,
    cast(t.active_days as bigint) as active_days,
    cast(t.target_amount as decimal(18, 2)) as target_amount,
    cast(coalesce(a.actual_amount, 0) as decimal(18, 2)) as actual_amount,
    coalesce(a.deals_won, 0) as deals_won,
    {{ safe_ratio('coalesce(a.actual_amount, 0)', 't.target_amount') }} as attainment,
    {{ reporting_currency() }} as currency
from spine as s
inner join reps as r on r.rep_id = s.rep_id
left join rep_targets as t on t.rep_id = s.rep_id and t.period_month = s.period_month
left join actuals as a on a.rep_id = s.rep_id and a.period_month = s.period_month
