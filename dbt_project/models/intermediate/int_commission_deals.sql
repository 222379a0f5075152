{#- Won deals that earn commission, each with the plan version that applies on its close date
    and the rep's (prorated) target of the close month. A rep-email assignment wins over a role
    assignment covering the same date. Deals of reps with no plan on the date are left out. -#}
with deals as (
    select * from {{ ref('fct_deals') }}
    where is_won and close_date is not null
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

assignments as (
    select * from {{ ref('stg_salesops_config__commission_plan_assignments') }}
),

plans as (
    select * from {{ ref('stg_salesops_config__commission_plans') }}
),

targets as (
    select * from {{ ref('fct_sales_targets') }}
),

candidates as (
    select
        d.deal_id,
        d.rep_id,
        d.close_date,
        d.amount_reporting,
        a.plan_id,
        case when a.rep_email is not null then 1 else 2 end as assignment_priority,
        a.assignment_id
    from deals as d
    inner join reps as r on r.rep_id = d.rep_id
    inner join assignments as a
        on (a.rep_email = r.email or (a.rep_email is null and a.role = r.role))
        and a.valid_from <= d.close_date
        and (a.valid_to is null or d.close_date < a.valid_to)
),

chosen as (
    select
        *,
        row_number() over (
            partition by deal_id order by assignment_priority, assignment_id
        ) as choice
    from candidates
)

select
    c.deal_id,
    c.rep_id,
    c.close_date,
    {{ month_start('c.close_date') }} as period_month,
    c.amount_reporting,
    c.plan_id,
    p.plan_version,
    t.target_amount
from chosen as c
inner join plans as p
    on p.plan_id = c.plan_id
    and p.effective_from <= c.close_date
    and (p.effective_to is null or c.close_date < p.effective_to)
left join targets as t
    on t.rep_id = c.rep_id
    and t.period_month = {{ month_start('c.close_date') }}
where c.choice = 1
