{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='account_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_accounts') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as account_id,
        {{ json_text('record', ['Parent_Account', 'id']) }} as parent_account_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,

        -- attributes
        {{ json_text('record', ['Account_Name']) }} as account_name,
        {{ json_text('record', ['Industry']) }} as industry,
        {{ json_text('record', ['Billing_Country']) }} as billing_country,
        {{ json_text('record', ['Parent_Account', 'name']) }} as parent_account_name,
        {{ json_text('record', ['Owner', 'name']) }} as owner_name,
        lower({{ json_text('record', ['Owner', 'email']) }}) as owner_email,

        -- numbers
        {{ to_money(json_text('record', ['Annual_Revenue'])) }} as annual_revenue,
        cast({{ json_text('record', ['Employees']) }} as integer) as employees,
        -- org custom fields
        {{ to_money(json_text('record', ['Credit_Limit'])) }} as credit_limit,
        cast({{ json_text('record', ['Customer_Satisfaction']) }} as integer) as satisfaction_score,

        -- timestamps (UTC)
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
