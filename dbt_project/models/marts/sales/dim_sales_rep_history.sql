{#- The effective-dated hierarchy (rep -> team -> manager -> region), one row per version,
    with names. Join a fact on rep_id and `valid_from <= credit date < coalesce(valid_to, ...)`
    to get the hierarchy as of the credit date. -#}
with versions as (
    select * from {{ ref('int_rep_hierarchy_versions') }}
),

people as (
    select * from {{ ref('dim_sales_reps') }}
)

select
    {{ dbt.concat(['v.rep_id', "'@'", 'cast(v.valid_from as ' ~ dbt.type_string() ~ ')']) }} as rep_version_id,  -- noqa: LT05
    v.rep_id,
    p.rep_name,
    p.email,
    v.role,
    v.team_name,
    v.manager_id,
    m.rep_name as manager_name,
    m.email as manager_email,
    v.region_name,
    v.valid_from,
    v.valid_to,
    v.valid_to is null as is_current,
    p.hired_on,
    p.left_on,
    p.is_active
from versions as v
inner join people as p on p.rep_id = v.rep_id
left join people as m on m.rep_id = v.manager_id
