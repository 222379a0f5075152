{#- One row per stage visit of a deal (the deal entered a stage and, unless it is still there,
    left it for the next one), from the CRMs' stage history (int_funnel_stage_events). Outcome
    of a visit: advanced (next stage is later in the pipeline, or won), lost (next stage is a lost
    stage), moved_back (an earlier open stage), closed (the visit is a won/lost stage itself),
    open (the deal is still in the stage). Team, manager and region are the deal owner's as of
    the day the stage was entered. -#}
with events as (
    select * from {{ ref('int_funnel_stage_events') }}
),

deals as (
    select * from {{ ref('fct_deals') }}
),

stages as (
    select * from {{ ref('crm_stage_mapping') }}
),

versions as (
    select * from {{ ref('int_rep_hierarchy_versions') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

visits as (
    select
        e.*,
        lead(e.stage) over (partition by e.deal_id order by e.entered_at, e.event_id) as next_stage,
        lead(e.entered_at) over (partition by e.deal_id order by e.entered_at, e.event_id) as exited_at,
        row_number() over (partition by e.deal_id order by e.entered_at, e.event_id) as visit_number
    from events as e
)

select
    v.event_id as transition_id,
    v.deal_id,
    v.source,
    d.rep_id,
    case when h.rep_id is not null then h.team_name else r.team_name end as team_name,
    case when h.rep_id is not null then h.manager_id else r.manager_id end as manager_id,
    case when h.rep_id is not null then h.region_name else r.region_name end as region_name,
    cast(v.visit_number as bigint) as visit_number,
    v.previous_stage,
    v.stage,
    s.stage_order,
    s.stage_category,
    v.next_stage,
    n.stage_order as next_stage_order,
    n.stage_category as next_stage_category,
    v.entered_at,
    cast(v.entered_at as date) as entered_date,
    v.exited_at,
    case
        when v.exited_at is not null
            then cast(round(cast(
                cast({{ dbt.datediff('v.entered_at', 'v.exited_at', 'second') }} as decimal(18, 2)) / 86400  -- noqa: LT05
                as decimal(38, 10)
            ), 2) as decimal(18, 2))
    end as days_in_stage,
    case
        when s.stage_category in ('won', 'lost') then 'closed'
        when v.next_stage is null then 'open'
        when n.stage_category = 'lost' then 'lost'
        when n.stage_category = 'won' or n.stage_order > s.stage_order then 'advanced'
        else 'moved_back'
    end as outcome,
    v.changed_by_id,
    d.amount_reporting as deal_amount_reporting,
    d.stage as deal_current_stage
from visits as v
inner join deals as d on d.deal_id = v.deal_id
left join stages as s on s.source = v.source and s.stage = v.stage
left join stages as n on n.source = v.source and n.stage = v.next_stage
left join versions as h
    on
        h.rep_id = d.rep_id
        and h.valid_from <= cast(v.entered_at as date)
        and (h.valid_to is null or cast(v.entered_at as date) < h.valid_to)
left join reps as r on r.rep_id = d.rep_id
