{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='account_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_accounts') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as account_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- attributes
        {{ json_text('record', ['name']) }} as account_name,
        {{ json_text('record', ['industry']) }} as industry,
        {{ json_text('record', ['owner__r', 'name']) }} as owner_name,
        {{ json_text('record', ['life_status']) }} as life_status,
        cast({{ json_text('record', ['is_deleted']) }} as boolean) as is_deleted_in_crm,
        {{ to_money(json_text('record', ['field_annual_revenue__c'])) }} as annual_revenue,
        {{ to_money(json_text('record', ['field_credit_limit__c'])) }} as credit_limit,
        cast({{ json_text('record', ['field_satisfaction__c']) }} as integer) as satisfaction_score,

        -- timestamps (UTC)
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
