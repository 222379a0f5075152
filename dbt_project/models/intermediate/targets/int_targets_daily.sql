{#- Month targets (reporting currency) decomposed to days by the working days of the scope's
    country (config.calendar: weekends, public holidays, China's adjusted working days,
    calendar_overrides.csv).

    settings.yml target_day_split: calendar_days spreads the month over every calendar day
    instead (weekends and holidays included).

    Proration (reps only): a rep who joins or leaves during the month gets
    month target x active days / days in month (calendar days, rounded half-up to the cent),
    where the active days run from hired_on to left_on inclusive. That prorated month target is
    then spread over the working days (calendar_days: the days) the rep was active; when none of
    the active days is a working day it is spread over the active calendar days. Days outside
    employment get 0.
    Rounding is cumulative over the month's days (see int_targets_monthly), so the days of a
    month add up exactly to its (prorated) month target. -#}
with monthly as (
    select * from {{ ref('int_targets_monthly') }}
),

scopes as (
    select * from {{ ref('int_target_scopes') }}
),

calendar as (
    select * from {{ ref('stg_salesops_config__calendar') }}
),

settings as (
    select * from {{ ref('stg_salesops_config__target_settings') }}
),

days as (
    select
        m.scope_type,
        m.scope_key,
        s.rep_id,
        s.team_name,
        s.region_name,
        s.country_code,
        m.period_month,
        m.source_grain,
        m.source_period,
        m.target_amount_reporting as month_target_amount,
        c.calendar_date,
        c.is_working_day,
        case
            when m.scope_type <> 'rep' then 1
            when s.hired_on is not null and c.calendar_date < s.hired_on then 0
            when s.left_on is not null and c.calendar_date > s.left_on then 0
            else 1
        end as is_active_day
    from monthly as m
    inner join scopes as s
        on
            s.scope_type = m.scope_type
            and s.scope_key = m.scope_key
    inner join calendar as c
        on
            c.country_code = s.country_code
            and c.period_month = m.period_month
),

month_sizes as (
    select
        *,
        count(*) over (partition by scope_type, scope_key, period_month) as days_in_month,
        sum(is_active_day) over (partition by scope_type, scope_key, period_month) as active_days,
        sum(case when is_active_day = 1 and is_working_day then 1 else 0 end) over (
            partition by scope_type, scope_key, period_month
        ) as active_working_days
    from days
),

prorated as (
    select
        ms.*,
        case
            when ms.active_days = ms.days_in_month then ms.month_target_amount
            when ms.active_days = 0 then cast(0 as decimal(18, 2))
            else {{ round_money('ms.month_target_amount * ms.active_days / ms.days_in_month') }}
        end as prorated_month_target_amount,
        case
            when st.target_day_split = 'calendar_days' then ms.is_active_day
            when ms.active_working_days > 0
                then case when ms.is_active_day = 1 and ms.is_working_day then 1 else 0 end
            else ms.is_active_day
        end as day_weight
    from month_sizes as ms
    cross join settings as st
),

cumulated as (
    select
        *,
        sum(day_weight) over (partition by scope_type, scope_key, period_month) as total_weight,
        sum(day_weight) over (
            partition by scope_type, scope_key, period_month
            order by calendar_date
            rows between unbounded preceding and current row
        ) as cum_weight
    from prorated
)

select
    scope_type,
    scope_key,
    rep_id,
    team_name,
    region_name,
    country_code,
    calendar_date,
    period_month,
    source_grain,
    source_period,
    is_working_day,
    is_active_day = 1 as is_active_day,
    day_weight,
    days_in_month,
    active_days,
    month_target_amount,
    prorated_month_target_amount,
    cast(case
        when total_weight = 0 then cast(0 as decimal(18, 2))
        else
            {{ round_money('prorated_month_target_amount * cum_weight / total_weight') }}
            - {{ round_money('prorated_month_target_amount * (cum_weight - day_weight) / total_weight') }}
    end as decimal(18, 2)) as target_amount
from cumulated
