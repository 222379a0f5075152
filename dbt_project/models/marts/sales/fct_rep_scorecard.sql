{#- Rep x month scorecard (reporting currency). Closed deals count in the month of their close
    date; open deals count as pipeline in the month of their expected close date (overdue open
    deals stay in their past month). Rows exist for every month with a target or any deal. -#}
with reps as (
    select * from {{ ref('dim_sales_reps') }}
),

deals as (
    select
        *,
        {{ month_start('close_date') }} as period_month
    from {{ ref('fct_deals') }}
    where close_date is not null
),

targets as (
    select * from {{ ref('fct_sales_targets') }}
),

deal_months as (
    select
        rep_id,
        period_month,
        sum(case when is_won then amount_reporting else 0 end) as won_amount,
        sum(case when is_won then 1 else 0 end) as deals_won,
        sum(case when is_lost then 1 else 0 end) as deals_lost,
        sum(case when is_open then 1 else 0 end) as deals_open,
        sum(case when is_open then amount_reporting else 0 end) as open_pipeline_amount,
        sum(case when is_open then amount_reporting * probability / 100 else 0 end)
            as weighted_pipeline_amount
    from deals
    group by 1, 2
),

spine as (
    select rep_id, period_month from deal_months
    union
    select rep_id, period_month from targets
)

select
    s.rep_id,
    r.rep_name,
    r.email,
    r.team_name,
    r.region_name,
    r.manager_name,
    r.manager_email,
    s.period_month,
    cast(coalesce(d.won_amount, 0) as decimal(18, 2)) as won_amount,
    coalesce(d.deals_won, 0) as deals_won,
    coalesce(d.deals_lost, 0) as deals_lost,
    coalesce(d.deals_open, 0) as deals_open,
    {{ safe_ratio('d.deals_won', 'd.deals_won + d.deals_lost') }} as win_rate,
    case when d.deals_won > 0 then {{ round_money('d.won_amount / d.deals_won') }} end as avg_deal_size,
    cast(coalesce(d.open_pipeline_amount, 0) as decimal(18, 2)) as open_pipeline_amount,
    {{ round_money('coalesce(d.weighted_pipeline_amount, 0)') }} as weighted_pipeline_amount,
    t.target_amount,
    t.attainment,
    {{ reporting_currency() }} as currency
from spine as s
inner join reps as r on r.rep_id = s.rep_id
left join deal_months as d on d.rep_id = s.rep_id and d.period_month = s.period_month
left join targets as t on t.rep_id = s.rep_id and t.period_month = s.period_month
