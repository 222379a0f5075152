{#- Every deal with a close date, credited to its owner on the close date (the expected close
    date for open deals), with the hierarchy (team, manager, region) valid on that credit date
    (int_rep_hierarchy_versions; the person's current hierarchy when no version covers the date)
    and whether it is the account's first won deal (a new customer; ties on the date broken by
    creation time, then deal id). -#}
with deals as (
    select * from {{ ref('fct_deals') }}
    where close_date is not null
),

versions as (
    select * from {{ ref('int_rep_hierarchy_versions') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

won_ranked as (
    select
        deal_id,
        row_number() over (
            partition by account_id order by close_date, created_at, deal_id
        ) as won_number
    from deals
    where is_won and account_id is not null
)

select
    d.deal_id,
    d.rep_id,
    d.account_id,
    d.close_date as credit_date,
    d.is_won,
    d.is_lost,
    d.is_open,
    d.amount_reporting,
    d.probability,
    d.sales_cycle_days,
    coalesce(w.won_number = 1, false) as is_new_customer,
    case when v.rep_id is not null then v.team_name else r.team_name end as team_name,
    case when v.rep_id is not null then v.manager_id else r.manager_id end as manager_id,
    case when v.rep_id is not null then v.region_name else r.region_name end as region_name
from deals as d
left join won_ranked as w on w.deal_id = d.deal_id
left join versions as v
    on v.rep_id = d.rep_id
    and v.valid_from <= d.close_date
    and (v.valid_to is null or d.close_date < v.valid_to)
left join reps as r on r.rep_id = d.rep_id
