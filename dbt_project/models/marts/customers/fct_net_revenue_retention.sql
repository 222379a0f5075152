{#- Net and gross revenue retention per calendar year and quarter, company-wide (reporting
    currency). Cohort of a period = customers with won revenue in the previous period of the
    same length. NRR = the cohort's revenue in the period / its revenue in the previous period
    (expansion counts, churn counts as 0); GRR caps each customer's revenue at its previous
    revenue. Customer retention = cohort customers buying again / cohort customers. New
    customers' revenue is not part of either. -#}
{%- set grains = [('quarter', 3), ('year', 12)] -%}

with won as (
    select
        account_id,
        close_date,
        coalesce(amount_reporting, 0) as amount_reporting
    from {{ ref('fct_deals') }}
    where is_won and account_id is not null and close_date is not null
),

account_periods as (
    {% for grain, months in grains %}
        select
            '{{ grain }}' as period_grain,
            {{ months }} as months_in_grain,
            cast({{ dbt.date_trunc(grain, 'close_date') }} as date) as period_start,
            account_id,
            sum(amount_reporting) as revenue
        from won
        group by 1, 2, 3, 4
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

last_period as (
    select
        period_grain,
        max(period_start) as last_period_start
    from account_periods
    group by 1
),

cohort as (
    select
        p.period_grain,
        cast({{ dbt.dateadd('month', 'p.months_in_grain', 'p.period_start') }} as date) as period_start,
        p.account_id,
        p.revenue as previous_revenue
    from account_periods as p
),

joined as (
    select
        c.period_grain,
        c.period_start,
        c.account_id,
        c.previous_revenue,
        coalesce(n.revenue, 0) as revenue
    from cohort as c
    inner join last_period as l
        on l.period_grain = c.period_grain and l.last_period_start >= c.period_start
    left join account_periods as n
        on
            n.period_grain = c.period_grain
            and n.period_start = c.period_start
            and n.account_id = c.account_id
)

select
    period_grain,
    period_start,
    count(*) as cohort_customers,
    cast(sum(case when revenue > 0 then 1 else 0 end) as bigint) as retained_customers,
    {{ safe_ratio('sum(case when revenue > 0 then 1 else 0 end)', 'count(*)') }} as customer_retention_rate,
    cast(sum(previous_revenue) as decimal(18, 2)) as cohort_previous_revenue,
    cast(sum(revenue) as decimal(18, 2)) as cohort_revenue,
    {{ safe_ratio('sum(revenue)', 'sum(previous_revenue)') }} as net_revenue_retention,
    {{ safe_ratio(
        'sum(case when revenue < previous_revenue then revenue else previous_revenue end)',
        'sum(previous_revenue)'
    ) }}
        as gross_revenue_retention,
    {{ reporting_currency() }} as currency
from joined
group by 1, 2
