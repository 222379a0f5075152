{#- Revenue concentration of the customer base: per calendar year and over all time
    (period_grain 'all_time', period_start null), the won revenue (reporting currency), the
    number of customers, the share of the 10 largest customers and the Herfindahl-Hirschman
    index HHI = Σ (100 x customer revenue / total revenue)², 0-10,000 (10,000 = one customer).
    Deals without an account are left out (they are no customer's revenue). -#}
with won as (
    select
        account_id,
        close_date,
        coalesce(amount_reporting, 0) as amount_reporting
    from {{ ref('fct_deals') }}
    where is_won and account_id is not null and close_date is not null
),

by_period as (
    select
        'year' as period_grain,
        cast({{ dbt.date_trunc('year', 'close_date') }} as date) as period_start,
        account_id,
        sum(amount_reporting) as revenue
    from won
    group by 1, 2, 3
    union all
    select
        'all_time' as period_grain,
        cast(null as date) as period_start,
        account_id,
        sum(amount_reporting) as revenue
    from won
    group by 1, 2, 3
),

ranked as (
    select
        *,
        sum(revenue) over (partition by period_grain, period_start) as total_revenue,
        row_number() over (
            partition by period_grain, period_start order by revenue desc, account_id asc
        ) as revenue_rank
    from by_period
)

select
    period_grain,
    period_start,
    count(*) as customers,
    cast(max(total_revenue) as decimal(18, 2)) as revenue,
    cast(sum(case when revenue_rank <= 10 then revenue else 0 end) as decimal(18, 2)) as top_10_revenue,
    {{ safe_ratio('sum(case when revenue_rank <= 10 then revenue else 0 end)', 'max(total_revenue)') }}
        as top_10_share,
    cast(round(cast(sum(
        (cast(100 * revenue as decimal(38, 10)) / nullif(total_revenue, 0))
        * (cast(100 * revenue as decimal(38, 10)) / nullif(total_revenue, 0))
    ) as decimal(38, 10)), 2) as decimal(18, 2)) as hhi,
    {{ reporting_currency() }} as currency
from ranked
group by 1, 2
