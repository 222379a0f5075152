{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='call_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_calls') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as call_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,
        -- What_Id is polymorphic: `$se_module` names the module it points at (Deals, Accounts ...)
        {{ json_text('record', ['What_Id', 'id']) }} as what_id,
        {{ json_text('record', ['$se_module']) }} as what_module,
        {{ json_text('record', ['Who_Id', 'id']) }} as who_id,

        -- attributes
        {{ json_text('record', ['Subject']) }} as subject,
        {{ json_text('record', ['Call_Type']) }} as call_type,
        {{ json_text('record', ['Outgoing_Call_Status']) }} as call_status,
        {{ json_text('record', ['Call_Result']) }} as call_result,
        cast({{ json_text('record', ['Call_Duration_in_seconds']) }} as {{ dbt.type_int() }})
            as call_duration_seconds,

        -- times (UTC)
        {{ iso_to_utc(json_text('record', ['Call_Start_Time'])) }} as call_started_at,
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
