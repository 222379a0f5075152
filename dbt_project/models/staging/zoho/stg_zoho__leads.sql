{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='lead_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_leads') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as lead_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,
        {{ json_text('record', ['Converted_Deal', 'id']) }} as converted_deal_id,
        {{ json_text('record', ['Converted_Account', 'id']) }} as converted_account_id,

        -- attributes
        {{ json_text('record', ['Company']) }} as company,
        {{ json_text('record', ['Lead_Source']) }} as lead_source,
        {{ json_text('record', ['Lead_Status']) }} as lead_status,
        coalesce(cast({{ json_text('record', ['Converted__s']) }} as boolean), false) as is_converted,

        -- timestamps (UTC)
        {{ iso_to_utc(json_text('record', ['Converted_Date_Time'])) }} as converted_at,
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
