{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='task_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_tasks') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as task_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,
        -- What_Id is polymorphic: `$se_module` names the module it points at (Deals, Accounts ...)
        {{ json_text('record', ['What_Id', 'id']) }} as what_id,
        {{ json_text('record', ['$se_module']) }} as what_module,
        {{ json_text('record', ['Who_Id', 'id']) }} as who_id,

        -- attributes
        {{ json_text('record', ['Subject']) }} as subject,
        {{ json_text('record', ['Status']) }} as status,
        {{ json_text('record', ['Priority']) }} as priority,

        -- dates and times (UTC)
        cast({{ json_text('record', ['Due_Date']) }} as date) as due_date,
        {{ iso_to_utc(json_text('record', ['Closed_Time'])) }} as closed_at,
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
