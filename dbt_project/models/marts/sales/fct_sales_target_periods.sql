{#- Target scope x period (ISO week, month, fiscal quarter, fiscal year), rolled up from the day
    grain (fct_sales_targets), with attainment for the whole period and period-to-date as of
    var('run_date'): WTD on week rows, MTD on month rows, QTD on quarter rows, YTD on year rows
    (to_date_label). Weeks may straddle months and fiscal years. Days after the run date count in the period total but not to date, so a
    past period's to-date equals its total and a future period's is 0. -#}
with days as (
    select * from {{ ref('fct_sales_targets') }}
),

by_grain as (
    select
        'week' as period_grain,
        scope_type,
        scope_key,
        rep_id,
        week_label as period_label,
        week_start as period_start,
        calendar_date,
        target_amount,
        actual_amount,
        deals_won
    from days
    union all
    select
        'month' as period_grain,
        scope_type,
        scope_key,
        rep_id,
        month_label as period_label,
        period_month as period_start,
        calendar_date,
        target_amount,
        actual_amount,
        deals_won
    from days
    union all
    select
        'quarter' as period_grain,
        scope_type,
        scope_key,
        rep_id,
        fiscal_quarter_label as period_label,
        fiscal_quarter_start as period_start,
        calendar_date,
        target_amount,
        actual_amount,
        deals_won
    from days
    union all
    select
        'year' as period_grain,
        scope_type,
        scope_key,
        rep_id,
        fiscal_year_label as period_label,
        fiscal_year_start as period_start,
        calendar_date,
        target_amount,
        actual_amount,
        deals_won
    from days
),

rolled as (
    select
        period_grain,
        scope_type,
        scope_key,
        rep_id,
        period_label,
        period_start,
        sum(target_amount) as target_amount,
        sum(actual_amount) as actual_amount,
        cast(sum(deals_won) as bigint) as deals_won,
        sum(case when calendar_date <= {{ run_date_literal() }} then target_amount else 0 end)
            as target_to_date,
        sum(case when calendar_date <= {{ run_date_literal() }} then actual_amount else 0 end)
            as actual_to_date
    from by_grain
    group by period_grain, scope_type, scope_key, rep_id, period_label, period_start
),

bounded as (
    select
        *,
        cast(case period_grain
            when 'week' then {{ dbt.dateadd('day', 7, 'period_start') }}
            when 'month' then {{ dbt.dateadd('month', 1, 'period_start') }}
            when 'quarter' then {{ dbt.dateadd('month', 3, 'period_start') }}
            else {{ dbt.dateadd('month', 12, 'period_start') }}
        end as date) as period_end
    from rolled
)

select
    period_grain,
    scope_type,
    scope_key,
    rep_id,
    period_label,
    period_start,
    period_end,
    cast(target_amount as decimal(18, 2)) as target_amount,
    cast(actual_amount as decimal(18, 2)) as actual_amount,
    deals_won,
    {{ safe_ratio('actual_amount', 'target_amount') }} as attainment,
    {{ run_date_literal() }} as as_of_date,
    case period_grain
        when 'week' then 'WTD' when 'month' then 'MTD' when 'quarter' then 'QTD' else 'YTD'
    end as to_date_label,
    (period_start <= {{ run_date_literal() }} and {{ run_date_literal() }} < period_end) as is_current_period,
    cast(target_to_date as decimal(18, 2)) as target_to_date,
    cast(actual_to_date as decimal(18, 2)) as actual_to_date,
    {{ safe_ratio('actual_to_date', 'target_to_date') }} as attainment_to_date,
    {{ reporting_currency() }} as currency
from bounded
