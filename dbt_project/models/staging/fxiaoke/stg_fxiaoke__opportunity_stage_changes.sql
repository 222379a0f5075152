{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='change_id',
    on_schema_change='fail',
    post_hook="{{ drop_quarantined('fxiaoke_opportunities', 'deal_id') }}"
) }}

with source as (
    select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_opportunity_stage_changes',
                                    id_column=json_text('landed.record', ['objectId']),
                                    quarantined_table='fxiaoke_opportunities') }}
    {{ landed_since_last_build(json_text('record', ['objectId']), 'fxiaoke_opportunities') }}
),

renamed as (
    select
        -- ids
        id as change_id,
        {{ json_text('record', ['objectId']) }} as deal_id,

        -- stage labels (Chinese, as stg_fxiaoke__opportunities.sales_stage); from_stage is null
        -- on the entry written when the opportunity was created
        {{ json_text('record', ['oldValue__r']) }} as from_stage,
        {{ json_text('record', ['newValue__r']) }} as to_stage,

        -- when (UTC) and by whom (openUserId)
        {{ epoch_ms_to_utc(json_text('record', ['operateTime'])) }} as changed_at,
        {{ json_text('record', ['operator', 0]) }} as changed_by_id,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
