{#- Stage events of both CRMs in one shape: the deal entered `stage` at `entered_at`.
    Zoho Stage_History rows state the stage the deal was in from `changed_at`; Fxiaoke stage
    changes state from/to. Deal ids are conformed to fct_deals ('zoho:<id>' / 'fxiaoke:<id>').
    Consecutive events of the same stage (an amount or date edit written to the history) are
    collapsed into the first. Only deals live in fct_deals are kept.

    Incremental per deal (a table on Spark, as the incremental staging models): a deal's events
    depend only on its own stage history and on its being in fct_deals. The pre-hook
    (drop_stale_stage_events) deletes the deals gone from fct_deals and the deals with history
    rows staged after the newest `history_loaded_at` kept; the build then adds every deal of
    fct_deals without rows here (those, and new or released deals). docs/dbt.md, "Incremental
    intermediate models", says why that equals a full rebuild. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ drop_stale_stage_events() }}"
) }}

with zoho as (
    select
        {{ dbt.concat(["'zoho:'", 'deal_id']) }} as deal_id,
        'zoho' as source,
        {{ dbt.concat(["'zoho:'", 'history_id']) }} as event_id,
        stage,
        changed_at as entered_at,
        case when changed_by_id is not null then {{ dbt.concat(["'zoho:'", 'changed_by_id']) }} end
            as changed_by_id,
        loaded_at
    from {{ ref('stg_zoho__deal_stage_history') }}
    where not coalesce(is_deleted, false)
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:'", 'deal_id']) }} as deal_id,
        'fxiaoke' as source,
        {{ dbt.concat(["'fxiaoke:'", 'change_id']) }} as event_id,
        to_stage as stage,
        changed_at as entered_at,
        case when changed_by_id is not null then {{ dbt.concat(["'fxiaoke:'", 'changed_by_id']) }} end
            as changed_by_id,
        loaded_at
    from {{ ref('stg_fxiaoke__opportunity_stage_changes') }}
    where not coalesce(is_deleted, false)
),

events as (
    select * from zoho
    union all
    select * from fxiaoke
),

live as (
    select e.*
    from events as e
    inner join {{ ref('fct_deals') }} as d on d.deal_id = e.deal_id
    where
        e.stage is not null
        and e.entered_at is not null
    {%- if is_incremental() %}
        and not exists (select 1 from {{ this }} as kept where kept.deal_id = e.deal_id)
    {%- endif %}
),

sequenced as (
    select
        *,
        lag(stage) over (partition by deal_id order by entered_at, event_id) as previous_stage,
        max(loaded_at) over (partition by deal_id) as history_loaded_at
    from live
)

select
    deal_id,
    source,
    event_id,
    stage,
    previous_stage,
    entered_at,
    changed_by_id,
    history_loaded_at
from sequenced
where previous_stage is null or previous_stage <> stage
