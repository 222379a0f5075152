{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='contact_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_contacts') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as contact_id,
        {{ json_text('record', ['Account_Name', 'id']) }} as account_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,

        -- attributes
        {{ json_text('record', ['First_Name']) }} as first_name,
        {{ json_text('record', ['Last_Name']) }} as last_name,
        {{ json_text('record', ['Full_Name']) }} as full_name,
        lower({{ json_text('record', ['Email']) }}) as email,
        {{ json_text('record', ['Account_Name', 'name']) }} as account_name,
        {{ json_text('record', ['Owner', 'name']) }} as owner_name,
        lower({{ json_text('record', ['Owner', 'email']) }}) as owner_email,
        cast({{ json_text('record', ['Date_of_Birth']) }} as date) as birth_date,

        -- timestamps (UTC)
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
