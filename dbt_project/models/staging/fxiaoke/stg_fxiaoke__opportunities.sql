{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='opportunity_id',
    on_schema_change='fail',
    post_hook="{{ drop_quarantined('fxiaoke_opportunities', 'opportunity_id') }}"
) }}

with source as (
    select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_opportunities') }}
    {{ landed_since_last_build('id', 'fxiaoke_opportunities') }}
),

renamed as (
    select
        -- ids
        id as opportunity_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,
        {{ json_text('record', ['account_id']) }} as account_id,

        -- attributes
        {{ json_text('record', ['name']) }} as opportunity_name,
        {{ json_text('record', ['sales_stage']) }} as sales_stage_code,
        {{ json_text('record', ['sales_stage__r']) }} as sales_stage,
        {{ json_text('record', ['owner__r', 'name']) }} as owner_name,
        {{ json_text('record', ['account_id__r']) }} as account_name,
        {{ json_text('record', ['life_status']) }} as life_status,
        cast({{ json_text('record', ['is_deleted']) }} as boolean) as is_deleted_in_crm,
        {{ json_text('record', ['record_type']) }} as record_type,
        {{ json_text('record', ['version']) }} as record_version,

        -- numbers (Fxiaoke sends them as strings; cast straight to decimal)
        {{ to_money(json_text('record', ['amount'])) }} as amount,
        {{ json_text('record', ['mc_currency']) }} as currency,
        cast({{ json_text('record', ['mc_exchange_rate']) }} as decimal(18, 8)) as crm_exchange_rate,
        cast({{ json_text('record', ['probability']) }} as decimal(5, 2)) as probability,

        -- dates (Asia/Shanghai) and timestamps (UTC)
        {{ epoch_ms_to_local_date(json_text('record', ['close_date'])) }} as close_date,
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
