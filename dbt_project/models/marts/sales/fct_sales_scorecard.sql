{#- The sales scorecard at every level and period grain, from one set of additive facts
    (int_kpi_rep_period_facts): scorecard_level rep | team | region | company x period_grain
    month | quarter | year. Team, region and company rows are sums of the rep rows (hierarchy
    as of the credit date), so Σ team = Σ its reps; every ratio is computed after summing.
    The appraisal score weights its components with the seed scorecard_weights (mirror of
    config/scorecard.yml).

    Sales velocity (per day) = open deals x average deal size x win rate / average sales cycle
    (days), all from deals (no stage history needed): the open deals credited to the period
    (expected close in it, or undated and due on the run date) and the won/lost deals closed in
    it; null when the period has no won deal with a cycle. Activity counts are sums over the
    reps whose CRM has activities (null when none has). -#}
{%- set measures = [
    'won_amount', 'lost_amount', 'deals_won', 'deals_lost', 'deals_open', 'open_pipeline_amount',
    'weighted_pipeline_amount', 'won_cycle_days', 'won_cycle_deals', 'new_customers',
    'active_customers', 'repeat_customers', 'prior_period_customers', 'retained_customers',
    'satisfaction_sum', 'satisfaction_count', 'target_amount',
    'activities_count', 'calls_count', 'meetings_count', 'tasks_completed'] -%}
{%- set levels = [
    ('rep', ['rep_id', 'team_name', 'manager_id', 'region_name']),
    ('team', ['team_name', 'region_name']),
    ('region', ['region_name']),
    ('company', [])] -%}
{%- set all_keys = ['rep_id', 'team_name', 'manager_id', 'region_name'] -%}

with all_facts as (
    select * from {{ ref('int_kpi_rep_period_facts') }}
),

published_periods as (
    -- A period that starts after the run date has nothing won or done yet: it is published only
    -- when open deals are expected to close in it (its pipeline), never for its targets alone.
    select
        period_grain,
        period_start
    from all_facts
    group by period_grain, period_start
    having period_start <= {{ run_date_literal() }} or sum(deals_open) > 0
),

facts as (
    select a.*
    from all_facts as a
    inner join published_periods as p
        on p.period_grain = a.period_grain and p.period_start = a.period_start
),

weights as (
    select
        max(case when component = 'revenue' then weight end) as w_revenue,
        max(case when component = 'revenue' then full_score_at end) as f_revenue,
        max(case when component = 'customer_satisfaction' then weight end) as w_satisfaction,
        max(case when component = 'customer_satisfaction' then full_score_at end) as f_satisfaction,
        max(case when component = 'new_customers' then weight end) as w_new_customers,
        max(case when component = 'new_customers' then full_score_at end) as f_new_customers,
        max(case when component = 'customer_maintenance' then weight end) as w_maintenance,
        max(case when component = 'customer_maintenance' then full_score_at end) as f_maintenance
    from {{ ref('scorecard_weights') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

leveled as (
    {% for level, keys in levels %}
        select
            '{{ level }}' as scorecard_level,
            period_grain,
            period_start,
            -- noqa: disable=LT02
            {% for k in all_keys -%}
            {% if k in keys %}{{ k }}{% else %}cast(null as {{ dbt.type_string() }}){% endif %} as {{ k }},
            {% endfor -%}
            {% for m in measures -%}
            sum({{ m }}) as {{ m }}{{ ',' if not loop.last }}
            {% endfor %}
        -- noqa: enable=LT02
        from facts
        group by period_grain, period_start{% for k in keys %}, {{ k }}{% endfor %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ratios as (
    select
        l.*,
        case l.period_grain when 'month' then 1 when 'quarter' then 3 else 12 end as months_in_period,
        {{ safe_ratio('l.deals_won', 'l.deals_won + l.deals_lost') }} as win_rate,
        {{ safe_ratio('l.won_amount', 'l.won_amount + l.lost_amount') }} as win_rate_by_value,
        cast(
            case
                when l.deals_won > 0 then {{ round_money('l.won_amount / l.deals_won') }}
            end as decimal(18, 2)
        ) as avg_deal_size,
        cast(case
            when l.won_cycle_deals > 0
                then
                    cast(
                        round(
                            cast(
                                cast(l.won_cycle_days as decimal(38, 10))
                                / l.won_cycle_deals as decimal(38, 10)
                            ),
                            2
                        ) as decimal(18, 2)
                    )
        end as decimal(18, 2)) as avg_sales_cycle_days,
        {{ safe_ratio('l.won_amount', 'l.target_amount') }} as attainment,
        case
            when l.target_amount is not null
                then case
                    when l.target_amount > l.won_amount then l.target_amount - l.won_amount
                    else cast(0 as decimal(18, 2))
                end
        end as remaining_target_amount,
        {{ safe_ratio('l.repeat_customers', 'l.active_customers') }} as repeat_purchase_rate,
        {{ safe_ratio('l.retained_customers', 'l.prior_period_customers') }} as customer_retention_rate,
        cast(case
            when l.satisfaction_count > 0
                then
                    cast(
                        round(
                            cast(
                                cast(l.satisfaction_sum as decimal(38, 10))
                                / l.satisfaction_count as decimal(38, 10)
                            ),
                            2
                        ) as decimal(18, 2)
                    )
        end as decimal(18, 2)) as avg_satisfaction_score,
        cast(case
            when l.deals_won > 0 and l.won_cycle_deals > 0 and l.won_cycle_days > 0
                -- open deals x (won / deals won) x (deals won / deals closed) / (cycle days / won deals
                -- with a cycle), simplified to one division so both engines round the same quotient
                then {{ round_money(
                'cast(l.deals_open * l.won_amount * l.won_cycle_deals as decimal(38, 10))'
                ~ ' / ((l.deals_won + l.deals_lost) * l.won_cycle_days)') }}
        end as decimal(18, 2)) as sales_velocity_per_day
    from leveled as l
),

components as (
    select
        r.*,
        {{ safe_ratio('r.open_pipeline_amount', 'r.remaining_target_amount') }} as pipeline_coverage,
        case
            when r.attainment is not null
                then 100 * least(r.attainment / w.f_revenue, 1)
        end as score_revenue,
        case
            when r.avg_satisfaction_score is not null
                then 100 * least(r.avg_satisfaction_score / w.f_satisfaction, 1)
        end as score_satisfaction,
        100 * least(r.new_customers / (w.f_new_customers * r.months_in_period), 1) as score_new_customers,
        case
            when r.customer_retention_rate is not null
                then 100 * least(r.customer_retention_rate / w.f_maintenance, 1)
        end as score_maintenance,
        w.w_revenue,
        w.w_satisfaction,
        w.w_new_customers,
        w.w_maintenance
    from ratios as r
    cross join weights as w
),

scored as (
    select
        c.*,
        (
            case when c.score_revenue is not null then c.w_revenue else 0 end
            + case when c.score_satisfaction is not null then c.w_satisfaction else 0 end
            + c.w_new_customers
            + case when c.score_maintenance is not null then c.w_maintenance else 0 end
        ) as weight_measured,
        (
            coalesce(c.score_revenue * c.w_revenue, 0)
            + coalesce(c.score_satisfaction * c.w_satisfaction, 0)
            + c.score_new_customers * c.w_new_customers
            + coalesce(c.score_maintenance * c.w_maintenance, 0)
        ) as weighted_points
    from components as c
)

select
    {{ dbt.concat([
        's.scorecard_level', "'|'", 's.period_grain', "'|'",
        'cast(s.period_start as ' ~ dbt.type_string() ~ ')', "'|'",
        "coalesce(s.rep_id, '')", "'|'", "coalesce(s.team_name, '')", "'|'",
        "coalesce(s.manager_id, '')", "'|'", "coalesce(s.region_name, '')"]) }} as scorecard_key,
    s.scorecard_level,
    s.period_grain,
    s.period_start,
    s.months_in_period,
    s.period_start > {{ run_date_literal() }} as is_future_period,
    s.rep_id,
    r.rep_name,
    s.team_name,
    s.manager_id,
    m.rep_name as manager_name,
    s.region_name,
    cast(s.won_amount as decimal(18, 2)) as won_amount,
    cast(s.lost_amount as decimal(18, 2)) as lost_amount,
    cast(s.deals_won as bigint) as deals_won,
    cast(s.deals_lost as bigint) as deals_lost,
    cast(s.deals_open as bigint) as deals_open,
    s.win_rate,
    s.win_rate_by_value,
    s.avg_deal_size,
    cast(s.won_cycle_deals as bigint) as won_cycle_deals,
    s.avg_sales_cycle_days,
    cast(s.new_customers as bigint) as new_customers,
    cast(s.active_customers as bigint) as active_customers,
    cast(s.repeat_customers as bigint) as repeat_customers,
    s.repeat_purchase_rate,
    cast(s.prior_period_customers as bigint) as prior_period_customers,
    cast(s.retained_customers as bigint) as retained_customers,
    s.customer_retention_rate,
    cast(s.satisfaction_count as bigint) as satisfaction_responses,
    s.avg_satisfaction_score,
    cast(s.open_pipeline_amount as decimal(18, 2)) as open_pipeline_amount,
    {{ round_money('s.weighted_pipeline_amount') }} as weighted_pipeline_amount,
    cast(s.target_amount as decimal(18, 2)) as target_amount,
    s.attainment,
    cast(s.remaining_target_amount as decimal(18, 2)) as remaining_target_amount,
    s.pipeline_coverage,
    s.sales_velocity_per_day,
    cast(s.activities_count as bigint) as activities_count,
    cast(s.calls_count as bigint) as calls_count,
    cast(s.meetings_count as bigint) as meetings_count,
    cast(s.tasks_completed as bigint) as tasks_completed,
    cast(round(cast(s.score_revenue as decimal(38, 10)), 2) as decimal(9, 2)) as score_revenue,
    cast(round(cast(s.score_satisfaction as decimal(38, 10)), 2) as decimal(9, 2)) as score_satisfaction,
    cast(round(cast(s.score_new_customers as decimal(38, 10)), 2) as decimal(9, 2)) as score_new_customers,
    cast(round(cast(s.score_maintenance as decimal(38, 10)), 2) as decimal(9, 2)) as score_maintenance,
    cast(case
        when s.weight_measured > 0
            then
                cast(
                    round(cast(s.weighted_points / s.weight_measured as decimal(38, 10)), 2) as decimal(9, 2)
                )
    end as decimal(9, 2)) as appraisal_score,
    {{ reporting_currency() }} as currency
from scored as s
left join reps as r on r.rep_id = s.rep_id
left join reps as m on m.rep_id = s.manager_id
