with reps as (
    select * from {{ ref('int_sales_reps_unioned') }}
)

select
    r.rep_id,
    r.source,
    r.source_user_id,
    r.rep_name,
    r.email,
    r.role,
    r.source_role_name,
    r.team_name,
    r.region_name,
    r.manager_id,
    m.rep_name as manager_name,
    m.email as manager_email,
    r.hired_on,
    r.left_on,
    (r.is_active_in_crm and (r.left_on is null or r.left_on > {{ run_date_literal() }})) as is_active
from reps as r
left join reps as m on m.rep_id = r.manager_id
