{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='contact_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('fxiaoke', 'fxiaoke_contacts') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as contact_id,
        {{ json_text('record', ['account_id']) }} as account_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- attributes
        {{ json_text('record', ['name']) }} as contact_name,
        lower({{ json_text('record', ['email']) }}) as email,

        -- dates (Asia/Shanghai) and timestamps (UTC)
        {{ epoch_ms_to_local_date(json_text('record', ['date_of_birth'])) }} as birthday,
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
