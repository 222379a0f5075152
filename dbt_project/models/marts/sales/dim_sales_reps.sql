{#- Every sales person of both CRMs (directors, managers, reps), including people who left and
    people who own no deal, with the hierarchy as the CRMs state it today. The effective-dated
    hierarchy is dim_sales_rep_history. -#}
with reps as (
    select * from {{ ref('int_sales_reps_unioned') }}
),

deal_counts as (
    select
        rep_id,
        count(*) as deals_owned
    from {{ ref('int_deals_unioned') }}
    where not is_deleted
    group by 1
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
    (r.is_active_in_crm and (r.left_on is null or r.left_on > {{ run_date_literal() }})) as is_active,
    coalesce(d.deals_owned, 0) as deals_owned,
    coalesce(d.deals_owned, 0) > 0 as has_deals
from reps as r
left join reps as m on m.rep_id = r.manager_id
left join deal_counts as d on d.rep_id = r.rep_id
