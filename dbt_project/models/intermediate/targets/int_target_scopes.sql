{#- Every scope that has a target, with the country whose calendar decomposes it and, for reps,
    the rep and employment dates used for proration. A team's region is the region of its
    people (as the CRMs state it today); regions not mapped in settings.yml use
    calendar_default_country, as do the company and scopes whose region is unknown. -#}
with targets as (
    select distinct
        scope_type,
        scope_key
    from {{ ref('stg_salesops_config__targets') }}
),

reps as (
    select * from {{ ref('int_sales_reps_unioned') }}
),

team_regions as (
    select
        team_name,
        min(region_name) as region_name
    from reps
    where team_name is not null
    group by team_name
),

settings as (
    select * from {{ ref('stg_salesops_config__target_settings') }}
),

regions as (
    select * from {{ ref('stg_salesops_config__calendar_regions') }}
),

scoped as (
    select
        t.scope_type,
        t.scope_key,
        r.rep_id,
        case when t.scope_type = 'team' then t.scope_key else r.team_name end as team_name,
        case
            when t.scope_type = 'rep' then r.region_name
            when t.scope_type = 'team' then tr.region_name
            when t.scope_type = 'region' then t.scope_key
        end as region_name,
        r.hired_on,
        r.left_on
    from targets as t
    left join reps as r
        on t.scope_type = 'rep' and r.email = t.scope_key
    left join team_regions as tr
        on t.scope_type = 'team' and tr.team_name = t.scope_key
)

select
    s.scope_type,
    s.scope_key,
    s.rep_id,
    s.team_name,
    s.region_name,
    coalesce(g.country_code, settings.calendar_default_country) as country_code,
    s.hired_on,
    s.left_on
from scoped as s
cross join settings
left join regions as g on g.region_name = s.region_name
