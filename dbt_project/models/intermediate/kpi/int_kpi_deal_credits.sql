{#- Every deal with a close date, credited to its owner on the close date (the expected close
    date for open deals; an open deal with no expected close date, like Maven's Prospecting and
    Engaging deals, counts as due on the run date), with the hierarchy (team, manager, region)
    valid on that credit date (int_rep_hierarchy_versions; the person's current hierarchy when no
    version covers the date) and whether it is the account's first won deal (a new customer; ties
    on the date broken by creation time, then deal id).

    pipeline_amount_reporting values an open deal for pipeline and coverage: its amount, or, when
    the CRM has none (Maven's open deals), the average won amount of the same product (by id,
    else by the name the CRM kept), else of the CRM; is_pipeline_amount_estimated flags those. -#}
with all_deals as (
    select * from {{ ref('fct_deals') }}
),

deals as (
    select
        a.*,
        coalesce(a.close_date, case when a.is_open then {{ run_date_literal() }} end) as credit_date
    from all_deals as a
    where a.close_date is not null or a.is_open
),

won_by_product as (
    select
        source,
        coalesce(product_id, product_name) as product_key,
        avg(amount_reporting) as avg_won_amount
    from all_deals
    where is_won and amount_reporting is not null and coalesce(product_id, product_name) is not null
    group by 1, 2
),

won_by_source as (
    select
        source,
        avg(amount_reporting) as avg_won_amount
    from all_deals
    where is_won and amount_reporting is not null
    group by 1
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
            partition by account_id order by credit_date, created_at, deal_id
        ) as won_number
    from deals
    where is_won and account_id is not null
)

select
    d.deal_id,
    d.rep_id,
    d.account_id,
    d.credit_date,
    d.is_won,
    d.is_lost,
    d.is_open,
    d.amount_reporting,
    cast(case
        when d.is_open then coalesce(
            d.amount_reporting,
            {{ round_money('wp.avg_won_amount') }},
            {{ round_money('ws.avg_won_amount') }}
        )
    end as decimal(18, 2)) as pipeline_amount_reporting,
    coalesce(
        d.is_open and d.amount_reporting is null
        and coalesce(wp.avg_won_amount, ws.avg_won_amount) is not null, false
    ) as is_pipeline_amount_estimated,
    d.probability,
    d.sales_cycle_days,
    coalesce(w.won_number = 1, false) as is_new_customer,
    case when v.rep_id is not null then v.team_name else r.team_name end as team_name,
    case when v.rep_id is not null then v.manager_id else r.manager_id end as manager_id,
    case when v.rep_id is not null then v.region_name else r.region_name end as region_name
from deals as d
left join won_ranked as w on w.deal_id = d.deal_id
left join versions as v
    on
        v.rep_id = d.rep_id
        and v.valid_from <= d.credit_date
        and (v.valid_to is null or v.valid_to > d.credit_date)
left join reps as r on r.rep_id = d.rep_id
left join won_by_product as wp
    on
        d.is_open and d.amount_reporting is null
        and wp.source = d.source and wp.product_key = coalesce(d.product_id, d.product_name)
left join won_by_source as ws
    on d.is_open and d.amount_reporting is null and ws.source = d.source
