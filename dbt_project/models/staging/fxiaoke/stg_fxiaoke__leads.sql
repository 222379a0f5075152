{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='lead_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_leads') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as lead_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- attributes
        {{ json_text('record', ['company_name']) }} as company,
        {{ json_text('record', ['source']) }} as lead_source,
        {{ json_text('record', ['leads_status']) }} as lead_status,
        coalesce({{ json_text('record', ['leads_status']) }} = 'transformed', false)
        or {{ json_text('record', ['opportunity_id']) }} is not null as is_converted,
        {{ json_text('record', ['opportunity_id']) }} as converted_deal_id,

        -- timestamps (UTC)
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
