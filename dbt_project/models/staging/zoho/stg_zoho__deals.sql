{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='deal_id',
    on_schema_change='fail',
    post_hook="{{ drop_quarantined('zoho_deals', 'deal_id') }}"
) }}

with source as (
    select * from {{ exclude_quarantined('zoho', 'zoho_deals') }}
    {{ landed_since_last_build('id', 'zoho_deals') }}
),

renamed as (
    select
        -- ids
        id as deal_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,
        {{ json_text('record', ['Account_Name', 'id']) }} as account_id,
        {{ json_text('record', ['Contact_Name', 'id']) }} as contact_id,
        {{ json_text('record', ['Product_Name', 'id']) }} as product_id,
        {{ json_text('record', ['Pipeline', 'id']) }} as pipeline_id,

        -- attributes
        {{ json_text('record', ['Deal_Name']) }} as deal_name,
        {{ json_text('record', ['Stage']) }} as stage,
        {{ json_text('record', ['Pipeline', 'name']) }} as pipeline_name,
        {{ json_text('record', ['Type']) }} as deal_type,
        {{ json_text('record', ['Lead_Source']) }} as lead_source,
        {{ json_text('record', ['Owner', 'name']) }} as owner_name,
        lower({{ json_text('record', ['Owner', 'email']) }}) as owner_email,
        {{ json_text('record', ['Account_Name', 'name']) }} as account_name,
        {{ json_text('record', ['Product_Name', 'name']) }} as product_name,
        {{ json_text('record', ['$approval_state']) }} as approval_state,

        -- numbers (exact decimals from the JSON text)
        {{ to_money(json_text('record', ['Amount'])) }} as amount,
        {{ json_text('record', ['Currency']) }} as currency,
        cast({{ json_text('record', ['Exchange_Rate']) }} as decimal(18, 8)) as crm_exchange_rate,
        cast({{ json_text('record', ['Probability']) }} as decimal(5, 2)) as probability,

        -- dates and timestamps (UTC)
        cast({{ json_text('record', ['Closing_Date']) }} as date) as closing_date,
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
