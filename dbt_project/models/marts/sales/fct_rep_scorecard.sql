{#- Rep x month scorecard (reporting currency), the grain the manager reports read. Closed deals
    count in the month of their close date; open deals count as pipeline in the month of their
    expected close date (overdue open deals stay in their past month). Rows exist for every
    rep-month with a target, any dated deal, customers to retain or activities. Team, region and manager are
    the rep's current ones (who receives the report); fct_sales_scorecard has every grain and
    level with the hierarchy as of the credit date, and the appraisal score. Sales velocity and
    the activity counts are defined as in fct_sales_scorecard (activities null for a rep whose
    CRM has none: Fxiaoke, Maven). -#}
with facts as (
    select
        rep_id,
        period_start as period_month,
        sum(won_amount) as won_amount,
        sum(lost_amount) as lost_amount,
        sum(deals_won) as deals_won,
        sum(deals_lost) as deals_lost,
        sum(deals_open) as deals_open,
        sum(open_pipeline_amount) as open_pipeline_amount,
        sum(weighted_pipeline_amount) as weighted_pipeline_amount,
        sum(won_cycle_days) as won_cycle_days,
        sum(won_cycle_deals) as won_cycle_deals,
        sum(new_customers) as new_customers,
        sum(target_amount) as target_amount,
        sum(activities_count) as activities_count,
        sum(calls_count) as calls_count,
        sum(meetings_count) as meetings_count,
        sum(tasks_completed) as tasks_completed
    from {{ ref('int_kpi_rep_period_facts') }}
    where period_grain = 'month'
    group by 1, 2
),

published_months as (
    -- A month after the run date's has nothing won or done yet: it is published only when open
    -- deals are expected to close in it (its pipeline), never for its targets alone.
    select period_month
    from facts
    group by 1
    having period_month <= {{ run_date_literal() }} or sum(deals_open) > 0
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

measured as (
    select
        f.*,
        case
            when f.target_amount is not null
                then case
                    when f.target_amount > f.won_amount then f.target_amount - f.won_amount
                    else 0
                end
        end as remaining_target_amount
    from facts as f
    inner join published_months as p on p.period_month = f.period_month
)

select
    f.rep_id,
    r.rep_name,
    r.email,
    r.team_name,
    r.region_name,
    r.manager_name,
    r.manager_email,
    f.period_month,
    f.period_month > {{ run_date_literal() }} as is_future_period,
    cast(f.won_amount as decimal(18, 2)) as won_amount,
    cast(f.deals_won as bigint) as deals_won,
    cast(f.deals_lost as bigint) as deals_lost,
    cast(f.deals_open as bigint) as deals_open,
    {{ safe_ratio('f.deals_won', 'f.deals_won + f.deals_lost') }} as win_rate,
    {{ safe_ratio('f.won_amount', 'f.won_amount + f.lost_amount') }} as win_rate_by_value,
    cast(
        case when f.deals_won > 0 then {{ round_money('f.won_amount / f.deals_won') }} end as decimal(18, 2)
    ) as avg_deal_size,
    cast(case
        when f.won_cycle_deals > 0
            then
                cast(
                    round(
                        cast(
                            cast(f.won_cycle_days as decimal(38, 10)) / f.won_cycle_deals as decimal(38, 10)
                        ),
                        2
                    ) as decimal(18, 2)
                )
    end as decimal(18, 2)) as avg_sales_cycle_days,
    cast(f.new_customers as bigint) as new_customers,
    cast(f.open_pipeline_amount as decimal(18, 2)) as open_pipeline_amount,
    {{ round_money('f.weighted_pipeline_amount') }} as weighted_pipeline_amount,
    cast(f.target_amount as decimal(18, 2)) as target_amount,
    {{ safe_ratio('f.won_amount', 'f.target_amount') }} as attainment,
    {{ safe_ratio('f.open_pipeline_amount', 'f.remaining_target_amount') }} as pipeline_coverage,
    case
        when f.deals_won > 0 and f.won_cycle_deals > 0 and f.won_cycle_days > 0
            then {{ round_money(
            'f.deals_open * (cast(f.won_amount as decimal(38, 10)) / f.deals_won)'
            ~ ' * (cast(f.deals_won as decimal(38, 10)) / (f.deals_won + f.deals_lost))'
            ~ ' / (cast(f.won_cycle_days as decimal(38, 10)) / f.won_cycle_deals)') }}
    end as sales_velocity_per_day,
    cast(f.activities_count as bigint) as activities_count,
    cast(f.calls_count as bigint) as calls_count,
    cast(f.meetings_count as bigint) as meetings_count,
    cast(f.tasks_completed as bigint) as tasks_completed,
    {{ reporting_currency() }} as currency
from measured as f
inner join reps as r on r.rep_id = f.rep_id
