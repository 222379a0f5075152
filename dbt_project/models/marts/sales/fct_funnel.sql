{#- The funnel: stage x team x period (month | quarter | year of entering the stage), plus a
    company row (funnel_level = 'company', all teams) per stage and period. Cohort definition:
    the deals that entered the stage in the period, and what they did next (whenever that
    was): conversion = advanced / entered; lost and still-open counted alongside. Median days in
    stage over the visits that have left the stage. The bottleneck of a team-period is its open
    stage with the lowest conversion (ties: the longer median dwell, then the earlier stage)
    among the stages some of whose deals have left them (a stage whose cohort is all still in it,
    like Maven's Prospecting, has no conversion yet and is no bottleneck). Sales velocity (per day) = open deals x average deal
    size x win rate / average sales cycle (days), taken from fct_sales_scorecard (computed from deals
    alone) for the same team and period; the same on every stage row of the team-period. -#}
{%- set grains = ['month', 'quarter', 'year'] -%}

with visits as (
    select * from {{ ref('fct_deal_stage_transitions') }}
),

by_grain as (
    {% for grain in grains %}
        select
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'entered_date') }} as date) as period_start,
            v.*
        from visits as v
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

leveled as (
    select
        'team' as funnel_level,
        b.*
    from by_grain as b
    union all
    select
        'company' as funnel_level,
        b.period_grain,
        b.period_start,
        b.transition_id,
        b.deal_id,
        b.source,
        b.rep_id,
        cast(null as {{ dbt.type_string() }}) as team_name,
        b.manager_id,
        cast(null as {{ dbt.type_string() }}) as region_name,
        b.visit_number,
        b.previous_stage,
        b.stage,
        b.stage_order,
        b.stage_category,
        b.next_stage,
        b.next_stage_order,
        b.next_stage_category,
        b.entered_at,
        b.entered_date,
        b.exited_at,
        b.days_in_stage,
        b.outcome,
        b.changed_by_id,
        b.deal_amount_reporting,
        b.deal_current_stage
    from by_grain as b
),

stage_periods as (
    select
        funnel_level,
        period_grain,
        period_start,
        source,
        team_name,
        stage,
        min(stage_order) as stage_order,
        min(stage_category) as stage_category,
        count(*) as deals_entered,
        sum(case when outcome = 'advanced' then 1 else 0 end) as deals_advanced,
        sum(case when outcome = 'lost' then 1 else 0 end) as deals_lost,
        sum(case when outcome = 'moved_back' then 1 else 0 end) as deals_moved_back,
        sum(case when outcome = 'open' then 1 else 0 end) as deals_still_in_stage,
        sum(case when days_in_stage is not null then 1 else 0 end) as visits_exited,
        {{ median_cont('days_in_stage') }} as median_days_in_stage_raw,
        avg(days_in_stage) as avg_days_in_stage_raw
    from leveled
    group by funnel_level, period_grain, period_start, source, team_name, stage
),

measured as (
    select
        sp.*,
        cast(case
            when sp.stage_category = 'open'
                then {{ safe_ratio('sp.deals_advanced', 'sp.deals_entered') }}
        end as decimal(18, 6)) as conversion_rate,
        cast(round(cast(sp.median_days_in_stage_raw as decimal(38, 10)), 2) as decimal(18, 2))
            as median_days_in_stage,
        cast(round(cast(sp.avg_days_in_stage_raw as decimal(38, 10)), 2) as decimal(18, 2))
            as avg_days_in_stage
    from stage_periods as sp
),

ranked as (
    select
        m.*,
        -- candidates: open stages some of whose deals have already left them
        case
            when m.stage_category = 'open' and m.visits_exited > 0 then
                row_number() over (
                    partition by
                        m.funnel_level, m.period_grain, m.period_start, m.source, m.team_name,
                        case when m.stage_category = 'open' and m.visits_exited > 0 then 1 else 0 end
                    order by m.conversion_rate asc, m.median_days_in_stage desc, m.stage_order asc
                )
        end as bottleneck_rank
    from measured as m
),

velocity as (
    select
        scorecard_level,
        period_grain,
        period_start,
        team_name,
        deals_open,
        avg_deal_size,
        win_rate,
        avg_sales_cycle_days,
        -- one definition of velocity, computed from deals in the scorecard
        sales_velocity_per_day
    from {{ ref('fct_sales_scorecard') }}
    where scorecard_level in ('team', 'company')
),

velocity_by_team as (
    select
        scorecard_level,
        period_grain,
        period_start,
        team_name,
        sum(deals_open) as deals_open,
        max(avg_deal_size) as avg_deal_size,
        max(win_rate) as win_rate,
        max(avg_sales_cycle_days) as avg_sales_cycle_days,
        max(sales_velocity_per_day) as sales_velocity_per_day,
        count(*) as rows_merged
    from velocity
    group by scorecard_level, period_grain, period_start, team_name
)

select
    {{ dbt.concat([
        'r.funnel_level', "'|'", 'r.period_grain', "'|'",
        'cast(r.period_start as ' ~ dbt.type_string() ~ ')', "'|'", 'r.source', "'|'",
        "coalesce(r.team_name, '')", "'|'", 'r.stage']) }} as funnel_key,
    r.funnel_level,
    r.period_grain,
    r.period_start,
    r.source,
    r.team_name,
    r.stage,
    r.stage_order,
    r.stage_category,
    cast(r.deals_entered as bigint) as deals_entered,
    cast(r.deals_advanced as bigint) as deals_advanced,
    cast(r.deals_lost as bigint) as deals_lost,
    cast(r.deals_moved_back as bigint) as deals_moved_back,
    cast(r.deals_still_in_stage as bigint) as deals_still_in_stage,
    r.conversion_rate,
    cast(r.visits_exited as bigint) as visits_exited,
    r.median_days_in_stage,
    r.avg_days_in_stage,
    coalesce(r.bottleneck_rank = 1, false) as is_bottleneck,
    cast(case when vt.rows_merged = 1 then vt.deals_open end as bigint) as team_deals_open,
    cast(case when vt.rows_merged = 1 then vt.avg_deal_size end as decimal(18, 2)) as team_avg_deal_size,
    cast(case when vt.rows_merged = 1 then vt.win_rate end as decimal(18, 6)) as team_win_rate,
    cast(case when vt.rows_merged = 1 then vt.avg_sales_cycle_days end as decimal(18, 2))
        as team_avg_sales_cycle_days,
    cast(case when vt.rows_merged = 1 then vt.sales_velocity_per_day end as decimal(18, 2))
        as sales_velocity_per_day
from ranked as r
left join velocity_by_team as vt
    on
        vt.scorecard_level = r.funnel_level
        and vt.period_grain = r.period_grain
        and vt.period_start = r.period_start
        and (vt.team_name = r.team_name or (vt.team_name is null and r.team_name is null))
