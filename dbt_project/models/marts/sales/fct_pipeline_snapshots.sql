{#- The open pipeline per deal, one row per deal and snapshot date: the history the pipeline keeps
    itself, because neither CRM serves what its pipeline looked like on a past day.
    Every nightly run adds the deals open in fct_deals as the snapshot of var('run_date')
    (is_reconstructed = false). A rerun of the same date replaces that date's rows (delete+insert
    on snapshot_date); a run for a date older than the newest snapshot adds nothing, so a backfill
    never writes today's CRM state over recorded history. `full_refresh: false` keeps the history
    through `dbt build --full-refresh`.
    The first build also reconstructs the days of the var('pipeline_backfill_weeks') ISO weeks
    before the run date's week (and the Sunday before them, their first opening) from the stage history (fct_deal_stage_transitions): a deal was open
    at the end of a day when the stage it was in then is an open stage. Only the stage is
    historical there; owner, amount and close date are today's (is_reconstructed = true), and a
    deal without stage history is reconstructed only when it is open now.
    On Spark, whose Parquet tables have no delete+insert, it is a table rebuilt every run from the
    first build's logic (docs/dbt.md, "Pipeline history"). -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key='snapshot_date',
    full_refresh=false,
    on_schema_change='fail'
) }}

with deals as (
    select * from {{ ref('fct_deals') }}
),

stages as (
    select * from {{ ref('crm_stage_mapping') }}
),

open_on_run_date as (
    select
        {{ run_date_literal() }} as snapshot_date,
        cast(deal_id as {{ type_varchar() }}) as deal_id,
        cast(source as {{ type_varchar() }}) as source,
        cast(deal_name as {{ type_varchar() }}) as deal_name,
        cast(rep_id as {{ type_varchar() }}) as rep_id,
        cast(stage as {{ type_varchar() }}) as stage,
        cast(stage_order as bigint) as stage_order,
        cast(probability as decimal(5, 2)) as probability,
        cast(amount_reporting as decimal(18, 2)) as amount_reporting,
        close_date,
        false as is_reconstructed
    from deals
    where is_open
    {%- if is_incremental() %}
        -- a run for a date older than the newest snapshot must not write today's CRM over history
        and {{ run_date_literal() }} >= (
            select coalesce(max(snapshot_date), {{ run_date_literal() }}) from {{ this }}
        )
    {%- endif %}
),

days as (
    -- the days reconstructed on the first build: the backfill weeks and the Sunday before them
    select date_day
    from {{ ref('dim_date') }}
    where
        {% if is_incremental() -%}
            1 = 0
        {%- else -%}
            date_day < {{ run_date_literal() }}
            and date_day >= cast({{ dbt.dateadd(
                'day', -7 * var('pipeline_backfill_weeks', 8) - 1,
                dbt.date_trunc('week', run_date_literal())) }} as date)
        {%- endif %}
),

visits as (
    select
        deal_id,
        stage,
        stage_order,
        stage_category,
        entered_date,
        cast(exited_at as date) as exited_date
    from {{ ref('fct_deal_stage_transitions') }}
),

deals_with_history as (
    select distinct deal_id from visits
),

open_without_history as (
    select d.*
    from deals as d
    left join deals_with_history as h on h.deal_id = d.deal_id
    where h.deal_id is null and d.is_open
),

open_from_history as (
    select
        y.date_day as snapshot_date,
        v.deal_id,
        v.stage,
        v.stage_order
    from visits as v
    inner join days as y
        on
            y.date_day >= v.entered_date
            and (v.exited_date is null or y.date_day < v.exited_date)
    where v.stage_category = 'open'

    union all

    select
        y.date_day as snapshot_date,
        w.deal_id,
        w.stage,
        w.stage_order
    from open_without_history as w
    inner join days as y on y.date_day >= w.created_date
),

reconstructed as (
    select
        h.snapshot_date,
        cast(d.deal_id as {{ type_varchar() }}) as deal_id,
        cast(d.source as {{ type_varchar() }}) as source,
        cast(d.deal_name as {{ type_varchar() }}) as deal_name,
        cast(d.rep_id as {{ type_varchar() }}) as rep_id,
        cast(h.stage as {{ type_varchar() }}) as stage,
        cast(h.stage_order as bigint) as stage_order,
        cast(s.default_probability as decimal(5, 2)) as probability,
        cast(d.amount_reporting as decimal(18, 2)) as amount_reporting,
        d.close_date,
        true as is_reconstructed
    from open_from_history as h
    inner join deals as d on d.deal_id = h.deal_id
    left join stages as s on s.source = d.source and s.stage = h.stage
)

select * from open_on_run_date
union all
select * from reconstructed
