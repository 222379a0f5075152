{#- Targets and actuals at DAY grain, per target scope (rep, team, region, company), in the
    reporting currency. Target = int_targets_daily (decomposed by working days, reps prorated).
    Actual = won deals' amount_reporting on their close date, credited to the rep and to the
    rep's current team, region and the company. Rows exist for every day of a month the scope
    has a target for, and for every day the scope (if it has any target) won a deal, within the
    calendar's date range. Roll-ups: fct_sales_target_periods (month / quarter / year, MTD /
    QTD / YTD) and fct_rep_targets_monthly (rep x month, read by the scorecard and reports). -#}
with daily as (
    select * from {{ ref('int_targets_daily') }}
),

scopes as (
    select * from {{ ref('int_target_scopes') }}
),

calendar as (
    select * from {{ ref('stg_salesops_config__calendar') }}
),

won as (
    select
        d.close_date,
        d.amount_reporting,
        r.email,
        r.team_name,
        r.region_name
    from {{ ref('fct_deals') }} as d
    inner join {{ ref('dim_sales_reps') }} as r on r.rep_id = d.rep_id
    where d.is_won and d.close_date is not null
),

credited as (
    select
        'rep' as scope_type,
        email as scope_key,
        close_date,
        amount_reporting
    from won
    union all
    select
        'team' as scope_type,
        team_name as scope_key,
        close_date,
        amount_reporting
    from won
    where team_name is not null
    union all
    select
        'region' as scope_type,
        region_name as scope_key,
        close_date,
        amount_reporting
    from won
    where region_name is not null
    union all
    select
        'company' as scope_type,
        'company' as scope_key,
        close_date,
        amount_reporting
    from won
),

actuals as (
    select
        c.scope_type,
        c.scope_key,
        c.close_date as calendar_date,
        sum(c.amount_reporting) as actual_amount,
        count(*) as deals_won
    from credited as c
    inner join scopes as s
        on
            s.scope_type = c.scope_type
            and s.scope_key = c.scope_key
    group by c.scope_type, c.scope_key, c.close_date
),

spine as (
    select
        scope_type,
        scope_key,
        calendar_date
    from daily
    union
    select
        scope_type,
        scope_key,
        calendar_date
    from actuals
)

select
    sp.scope_type,
    sp.scope_key,
    s.rep_id,
    s.team_name,
    s.region_name,
    s.country_code,
    sp.calendar_date,
    c.period_month,
    c.fiscal_quarter_start,
    c.fiscal_year_start,
    c.month_label,
    c.fiscal_quarter_label,
    c.fiscal_year_label,
    c.week_start,
    c.week_label,
    c.is_working_day,
    coalesce(t.is_active_day, true) as is_active_day,
    cast(coalesce(t.target_amount, 0) as decimal(18, 2)) as target_amount,
    cast(coalesce(a.actual_amount, 0) as decimal(18, 2)) as actual_amount,
    coalesce(a.deals_won, 0) as deals_won,
    t.scope_key is not null as has_target,
    {{ reporting_currency() }} as currency
from spine as sp
inner join scopes as s
    on
        s.scope_type = sp.scope_type
        and s.scope_key = sp.scope_key
inner join calendar as c
    on
        c.country_code = s.country_code
        and c.calendar_date = sp.calendar_date
left join daily as t
    on
        t.scope_type = sp.scope_type
        and t.scope_key = sp.scope_key
        and t.calendar_date = sp.calendar_date
left join actuals as a
    on
        a.scope_type = sp.scope_type
        and a.scope_key = sp.scope_key
        and a.calendar_date = sp.calendar_date
