{#- Upward consistency of the target marts (returns the offending rows):
    - each rep-month of fct_rep_targets_monthly equals the month row of fct_sales_target_periods;
    - each fiscal quarter equals the sum of its months, each fiscal year the sum of its quarters
      (targets and actuals), for every scope. -#}
with periods as (
    select * from {{ ref('fct_sales_target_periods') }}
),

rep_months as (
    select
        'rep month vs periods' as check_name,
        m.rep_id as scope_key,
        m.period_month as period_start,
        m.target_amount as expected_amount,
        p.target_amount as actual_amount
    from {{ ref('fct_rep_targets_monthly') }} as m
    inner join periods as p
        on p.period_grain = 'month'
        and p.rep_id = m.rep_id
        and p.period_start = m.period_month
    where m.target_amount is not null
),

months_in_quarters as (
    select
        'quarter = sum of months' as check_name,
        q.scope_key,
        q.period_start,
        q.target_amount + q.actual_amount as expected_amount,
        sum(m.target_amount + m.actual_amount) as actual_amount
    from periods as q
    inner join periods as m
        on m.period_grain = 'month'
        and m.scope_type = q.scope_type
        and m.scope_key = q.scope_key
        and m.period_start >= q.period_start
        and m.period_start < q.period_end
    where q.period_grain = 'quarter'
    group by q.scope_type, q.scope_key, q.period_start, q.target_amount, q.actual_amount
),

quarters_in_years as (
    select
        'year = sum of quarters' as check_name,
        y.scope_key,
        y.period_start,
        y.target_amount + y.actual_amount as expected_amount,
        sum(q.target_amount + q.actual_amount) as actual_amount
    from periods as y
    inner join periods as q
        on q.period_grain = 'quarter'
        and q.scope_type = y.scope_type
        and q.scope_key = y.scope_key
        and q.period_start >= y.period_start
        and q.period_start < y.period_end
    where y.period_grain = 'year'
    group by y.scope_type, y.scope_key, y.period_start, y.target_amount, y.actual_amount
),

checks as (
    select * from rep_months
    union all
    select * from months_in_quarters
    union all
    select * from quarters_in_years
)

select * from checks
where expected_amount <> actual_amount
