{#- Sales people of both CRMs in one shape; hierarchy as the CRMs state it today. -#}
with zoho_users as (
    select * from {{ ref('stg_zoho__users') }}
    where not is_deleted
),

fxiaoke_employees as (
    select * from {{ ref('stg_fxiaoke__employees') }}
    where not is_deleted
),

fxiaoke_departments as (
    select * from {{ ref('stg_fxiaoke__departments') }}
    where not is_deleted
),

zoho as (
    select
        {{ dbt.concat(["'zoho:'", 'user_id']) }} as rep_id,
        'zoho' as source,
        user_id as source_user_id,
        full_name as rep_name,
        email,
        case role_name
            when 'Regional Director' then 'director'
            when 'Sales Manager' then 'manager'
            when 'Sales Representative' then 'rep'
        end as role,
        role_name as source_role_name,
        sales_team as team_name,
        territory_name as region_name,
        case
            when reporting_to_id is not null
                then {{ dbt.concat(["'zoho:'", 'reporting_to_id']) }}
        end as manager_id,
        joined_on as hired_on,
        left_on,
        status = 'active' as is_active_in_crm
    from zoho_users
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:'", 'e.employee_id']) }} as rep_id,
        'fxiaoke' as source,
        e.employee_id as source_user_id,
        e.employee_name as rep_name,
        e.email,
        case e.position_name
            when '区域总监' then 'director'
            when '销售经理' then 'manager'
            when '销售代表' then 'rep'
        end as role,
        e.position_name as source_role_name,
        -- a department under the company root (999999) is a region; below it, a team
        case when d.parent_department_id = 999999 then null else d.department_name end as team_name,
        case when d.parent_department_id = 999999 then d.department_name else p.department_name end
            as region_name,
        case
            when e.leader_id is not null
                then {{ dbt.concat(["'fxiaoke:'", 'e.leader_id']) }}
        end as manager_id,
        e.hired_on,
        e.stopped_on as left_on,
        not coalesce(e.is_stopped, false) as is_active_in_crm
    from fxiaoke_employees as e
    left join fxiaoke_departments as d on d.department_id = e.main_department_id
    left join fxiaoke_departments as p on p.department_id = d.parent_department_id
)

select * from zoho
union all
select * from fxiaoke
