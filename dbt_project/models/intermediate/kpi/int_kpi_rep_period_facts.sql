{#- Additive KPI facts per period grain (month, quarter, year) x period x rep x the hierarchy
    (team, manager, region) valid on the credit date. Every measure is a sum, so any roll-up
    (team, region, company) is a plain sum of these rows and Σ team = Σ its reps; ratios are
    computed after summing (fct_sales_scorecard). A rep who changed team within a period has
    one row per team.

    Customer measures count rep-account pairs: active = accounts with a won deal credited to the
    rep in the period; repeat = those of them that had bought (from anyone) before the period;
    prior_period / retained = the rep's accounts of the previous period, and those of them that
    bought from the rep again in this period (attributed to the hierarchy of the previous
    period); satisfaction = sum / count of the scores of the period's accounts. Targets are the
    rep's prorated monthly targets (fct_rep_targets_monthly; targets matching no rep are
    fct_target_mismatches' business, not a rep's), attributed to the hierarchy valid on the month's last day.

    Open pipeline uses pipeline_amount_reporting (the amount, or its estimate for an open deal
    the CRM keeps without one; int_kpi_deal_credits).

    Activities (int_activities_unioned, completed ones, in the period of activity_date, hierarchy
    valid on that date): calls_count, meetings_count, tasks_completed and their sum
    activities_count. They exist only where the CRM has activities: null for every rep of a CRM
    with no activity landed at all (Fxiaoke, whose activity object is not ingested; the Maven
    data set), 0 for a rep of a CRM with activities who logged none in the period. -#}
{#- A table on every engine, not DuckDB's view: both scorecards and the data tests read it, and a
    view computed every fact again for each (docs/dbt.md). -#}
{{ config(materialized='table') }}
{%- set grains = [('month', 1), ('quarter', 3), ('year', 12)] -%}
{%- set measures = [
    'won_amount', 'lost_amount', 'deals_won', 'deals_lost', 'deals_open', 'open_pipeline_amount',
    'weighted_pipeline_amount', 'won_cycle_days', 'won_cycle_deals', 'new_customers',
    'active_customers', 'repeat_customers', 'prior_period_customers', 'retained_customers',
    'satisfaction_sum', 'satisfaction_count', 'target_amount',
    'activities_count', 'calls_count', 'meetings_count', 'tasks_completed'] -%}
{%- set nullable = ['satisfaction_sum', 'target_amount'] -%}
{%- set activity_measures = ['activities_count', 'calls_count', 'meetings_count', 'tasks_completed'] -%}
{#- Result type of each summed measure, the same on every adapter: amounts decimal(18, 2), counts bigint. -#}
{%- set measure_types = {
    'weighted_pipeline_amount': 'decimal(38, 10)',
    'satisfaction_sum': 'decimal(18, 2)'} -%}


with credits as (
    select * from {{ ref('int_kpi_deal_credits') }}
),

accounts as (
    select * from {{ ref('int_customer_accounts') }}
),

versions as (
    select * from {{ ref('int_rep_hierarchy_versions') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

activities as (
    select
        rep_id,
        activity_type,
        activity_date
    from {{ ref('int_activities_unioned') }}
    where is_completed and rep_id is not null
),

-- the last period with any deal data: retention is not projected beyond it
data_end as (
    select
        case
            when max(credit_date) < {{ run_date_literal() }} then max(credit_date)
            else {{ run_date_literal() }}
        end as last_date
    from credits
),

first_purchase as (
    select
        account_id,
        min(credit_date) as first_won_date
    from credits
    where is_won and account_id is not null
    group by 1
),

credits_by_grain as (
    {% for grain, months in grains %}
        select
            '{{ grain }}' as period_grain,
            {{ months }} as months_in_grain,
            cast({{ dbt.date_trunc(grain, 'credit_date') }} as date) as period_start,
            c.*
        from credits as c
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

deal_facts as (
    select
        period_grain,
        period_start,
        rep_id,
        team_name,
        manager_id,
        region_name,
        {%- set given = {
            'won_amount': 'case when is_won then coalesce(amount_reporting, 0) else 0 end',
            'lost_amount': 'case when is_lost then coalesce(amount_reporting, 0) else 0 end',
            'deals_won': 'case when is_won then 1 else 0 end',
            'deals_lost': 'case when is_lost then 1 else 0 end',
            'deals_open': 'case when is_open then 1 else 0 end',
            'open_pipeline_amount': 'case when is_open then coalesce(pipeline_amount_reporting, amount_reporting, 0) else 0 end',
            'weighted_pipeline_amount': 'case when is_open then coalesce(pipeline_amount_reporting, amount_reporting, 0) * coalesce(probability, 0) / 100 else 0 end',
            'won_cycle_days': 'case when is_won and sales_cycle_days is not null then sales_cycle_days else 0 end',
            'won_cycle_deals': 'case when is_won and sales_cycle_days is not null then 1 else 0 end',
            'new_customers': 'case when is_new_customer then 1 else 0 end'} -%}
        {{ kpi_measure_columns(measures, given, nullable, activity_measures) }}
    from credits_by_grain
),

-- rep x account x period of won deals, with the hierarchy of the rep's latest deal with it
rep_account_ranked as (
    select
        period_grain,
        months_in_grain,
        period_start,
        rep_id,
        account_id,
        team_name,
        manager_id,
        region_name,
        row_number() over (
            partition by period_grain, period_start, rep_id, account_id
            order by credit_date desc, deal_id desc
        ) as deal_rank
    from credits_by_grain
    where is_won and account_id is not null
),

rep_accounts as (
    select * from rep_account_ranked
    where deal_rank = 1
),

customer_facts as (
    select
        ra.period_grain,
        ra.period_start,
        ra.rep_id,
        ra.team_name,
        ra.manager_id,
        ra.region_name,
        {%- set given = {
            'active_customers': '1',
            'repeat_customers': 'case when fp.first_won_date < ra.period_start then 1 else 0 end',
            'satisfaction_sum': 'a.satisfaction_score',
            'satisfaction_count': 'case when a.satisfaction_score is not null then 1 else 0 end'} -%}
        {{ kpi_measure_columns(measures, given, nullable, activity_measures) }}
    from rep_accounts as ra
    left join first_purchase as fp on fp.account_id = ra.account_id
    left join accounts as a on a.account_id = ra.account_id
),

next_periods as (
    select
        ra.*,
        cast({{ dbt.dateadd('month', 'ra.months_in_grain', 'ra.period_start') }} as date) as next_period_start
    from rep_accounts as ra
),

retention_facts as (
    select
        np.period_grain,
        np.next_period_start as period_start,
        np.rep_id,
        np.team_name,
        np.manager_id,
        np.region_name,
        {%- set given = {
            'prior_period_customers': '1',
            'retained_customers': 'case when nxt.account_id is not null then 1 else 0 end'} -%}
        {{ kpi_measure_columns(measures, given, nullable, activity_measures) }}
    from next_periods as np
    cross join data_end as de
    left join rep_accounts as nxt
        on
            nxt.period_grain = np.period_grain
            and nxt.period_start = np.next_period_start
            and nxt.rep_id = np.rep_id
            and nxt.account_id = np.account_id
    where np.next_period_start <= de.last_date
),

targets as (
    select
        t.rep_id,
        t.period_month,
        t.target_amount,
        case when v.rep_id is not null then v.team_name else r.team_name end as team_name,
        case when v.rep_id is not null then v.manager_id else r.manager_id end as manager_id,
        case when v.rep_id is not null then v.region_name else r.region_name end as region_name
    from {{ ref('fct_rep_targets_monthly') }} as t
    left join versions as v
        on
            v.rep_id = t.rep_id
            and v.valid_from
            <= cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 't.period_month')) }} as date)
            and (
                v.valid_to is null
                or v.valid_to
                > cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 't.period_month')) }} as date)
            )
    inner join reps as r on r.rep_id = t.rep_id
    where t.target_amount is not null
),

target_facts as (
    {% for grain, months in grains %}
        select
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'period_month') }} as date) as period_start,
            rep_id,
            team_name,
            manager_id,
            region_name,
            {%- set given = {'target_amount': 'target_amount'} -%}
            {{ kpi_measure_columns(measures, given, nullable, activity_measures) }}
        from targets
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

activities_by_grain as (
    {% for grain, months in grains %}
        select
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'a.activity_date') }} as date) as period_start,
            a.rep_id,
            a.activity_type,
            case when v.rep_id is not null then v.team_name else r.team_name end as team_name,
            case when v.rep_id is not null then v.manager_id else r.manager_id end as manager_id,
            case when v.rep_id is not null then v.region_name else r.region_name end as region_name
        from activities as a
        left join versions as v
            on
                v.rep_id = a.rep_id
                and v.valid_from <= a.activity_date
                and (v.valid_to is null or v.valid_to > a.activity_date)
        inner join reps as r on r.rep_id = a.rep_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

activity_facts as (
    select
        period_grain,
        period_start,
        rep_id,
        team_name,
        manager_id,
        region_name,
        {%- set given = {
            'activities_count': '1',
            'calls_count': "case when activity_type = 'call' then 1 else 0 end",
            'meetings_count': "case when activity_type = 'meeting' then 1 else 0 end",
            'tasks_completed': "case when activity_type = 'task' then 1 else 0 end"} -%}
        {{ kpi_measure_columns(measures, given, nullable, activity_measures) }}
    from activities_by_grain
),

-- CRMs that have activities at all: their reps get 0, not null, in a period without any
activity_sources as (
    select distinct source from {{ ref('int_activities_unioned') }}
),

all_facts as (
    select * from deal_facts
    union all
    select * from activity_facts
    union all
    select * from customer_facts
    union all
    select * from retention_facts
    union all
    select * from target_facts
),

summed as (
    select
        period_grain,
        period_start,
        rep_id,
        team_name,
        manager_id,
        region_name,
        -- noqa: disable=LT02
        {% for m in measures -%}
        {%- set default_type = 'decimal(18, 2)' if m.endswith('_amount') else dbt.type_bigint() %}
        cast(sum({{ m }}) as {{ measure_types.get(m, default_type) }}) as {{ m }}{{ ',' if not loop.last }}
        {% endfor %}
    -- noqa: enable=LT02
    from all_facts
    group by 1, 2, 3, 4, 5, 6
)

select
    s.period_grain,
    s.period_start,
    s.rep_id,
    s.team_name,
    s.manager_id,
    s.region_name,
    -- noqa: disable=LT02
    {% for m in measures -%}
    {% if m in activity_measures -%}
    case when src.source is not null then coalesce(s.{{ m }}, 0) end as {{ m }}{{ ',' if not loop.last }}
    {%- else -%}
    s.{{ m }}{{ ',' if not loop.last }}
    {%- endif %}
    {% endfor %}
-- noqa: enable=LT02
from summed as s
left join reps as r on r.rep_id = s.rep_id
left join activity_sources as src on src.source = r.source
