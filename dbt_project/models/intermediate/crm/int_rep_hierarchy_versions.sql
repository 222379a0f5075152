{#- Effective-dated hierarchy (team, manager, region, role) of every sales person: an SCD-2
    history the pipeline builds itself, because both CRMs only serve today's hierarchy.
    First build: one version per person valid from the hire date (1900-01-01 when unknown).
    Every later run compares today's hierarchy with the open version; on a change the open
    version is closed at var('run_date') and a new one opens on that date (a second change on
    the same run date replaces that day's version). `full_refresh: false` keeps the history
    through `dbt build --full-refresh`. Validity is half-open [valid_from, valid_to).
    On Spark, whose Parquet tables have no delete+insert, it is a table of the first build's
    versions, rebuilt every run (docs/architecture.md: on Delta tables `merge` would keep it). -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['rep_id', 'valid_from'],
    full_refresh=false
) }}

with current_state as (
    select
        rep_id,
        role,
        team_name,
        manager_id,
        region_name,
        coalesce(hired_on, cast('1900-01-01' as date)) as hired_on,
        {{ dbt.hash(dbt.concat([
            "coalesce(role, '~')", "'|'",
            "coalesce(team_name, '~')", "'|'",
            "coalesce(manager_id, '~')", "'|'",
            "coalesce(region_name, '~')"])) }} as hierarchy_hash
    from {{ ref('int_sales_reps_unioned') }}
)

{% if is_incremental() %}
,

open_versions as (
    select * from {{ this }}
    where valid_to is null
),

changed as (
    select
        c.*,
        o.valid_from as open_valid_from
    from current_state as c
    left join open_versions as o on o.rep_id = c.rep_id
    where o.rep_id is null or o.hierarchy_hash <> c.hierarchy_hash
)

-- close the open version of everyone whose hierarchy changed (unless it opened today)
select
    o.rep_id,
    o.role,
    o.team_name,
    o.manager_id,
    o.region_name,
    o.hierarchy_hash,
    o.valid_from,
    {{ run_date_literal() }} as valid_to
from open_versions as o
inner join changed as c on c.rep_id = o.rep_id
where o.valid_from < {{ run_date_literal() }}

union all

-- open the new version (a new person starts at the hire date)
select
    rep_id,
    role,
    team_name,
    manager_id,
    region_name,
    hierarchy_hash,
    case
        when open_valid_from is null then hired_on
        when open_valid_from >= {{ run_date_literal() }} then open_valid_from
        else {{ run_date_literal() }}
    end as valid_from,
    cast(null as date) as valid_to
from changed

{% else %}

    select
        rep_id,
        role,
        team_name,
        manager_id,
        region_name,
        hierarchy_hash,
        hired_on as valid_from,
        cast(null as date) as valid_to
    from current_state

{% endif %}
