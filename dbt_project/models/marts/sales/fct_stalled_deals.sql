{#- Open deals that have not changed stage for longer than their stage usually takes, as of
    var('run_date'). Usual dwell time of a stage = median days in stage over every visit of it
    that has ended (fct_deal_stage_transitions, per CRM). Days in the current stage run from the
    last stage change; a deal without stage history counts from its creation
    (days_counted_from = 'created_at'). Only stalled deals are listed. -#}
with deals as (
    select * from {{ ref('fct_deals') }}
    where is_open
),

visits as (
    select * from {{ ref('fct_deal_stage_transitions') }}
),

usual as (
    select
        source,
        stage,
        count(*) as visits_measured,
        {{ median_cont('days_in_stage') }} as usual_days_raw
    from visits
    where days_in_stage is not null
    group by 1, 2
),

current_visit as (
    select
        deal_id,
        entered_at
    from visits
    where outcome = 'open'
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

measured as (
    select
        d.deal_id,
        d.source,
        d.deal_name,
        d.rep_id,
        d.account_id,
        d.stage,
        d.amount_reporting,
        d.close_date,
        coalesce(cv.entered_at, d.created_at) as in_stage_since,
        case when cv.entered_at is not null then 'stage_history' else 'created_at' end as days_counted_from,
        {{ dbt.datediff('cast(coalesce(cv.entered_at, d.created_at) as date)', run_date_literal(), 'day') }}
            as days_in_stage,
        cast(round(cast(u.usual_days_raw as decimal(38, 10)), 2) as decimal(18, 2)) as usual_days_in_stage,
        u.visits_measured
    from deals as d
    left join current_visit as cv on cv.deal_id = d.deal_id
    inner join usual as u on u.source = d.source and u.stage = d.stage
)

select
    m.deal_id,
    m.source,
    m.deal_name,
    m.rep_id,
    r.rep_name,
    r.team_name,
    r.manager_name,
    m.account_id,
    m.stage,
    m.amount_reporting,
    m.close_date,
    m.in_stage_since,
    m.days_counted_from,
    cast(m.days_in_stage as bigint) as days_in_stage,
    m.usual_days_in_stage,
    m.visits_measured,
    cast(m.days_in_stage - m.usual_days_in_stage as decimal(18, 2)) as days_over_usual
from measured as m
left join reps as r on r.rep_id = m.rep_id
where m.days_in_stage > m.usual_days_in_stage
