{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail'
) }}

with source as (
    select * from {{ raw_source('zoho', 'zoho_events') }}
    {{ landed_since_last_build() }}
),

renamed as (
    select
        -- ids
        id as event_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,
        -- What_Id is polymorphic: `$se_module` names the module it points at (Deals, Accounts ...)
        {{ json_text('record', ['What_Id', 'id']) }} as what_id,
        {{ json_text('record', ['$se_module']) }} as what_module,
        {{ json_text('record', ['Who_Id', 'id']) }} as who_id,

        -- attributes: Zoho names an event's subject Event_Title
        {{ json_text('record', ['Event_Title']) }} as event_title,
        cast({{ json_text('record', ['All_day']) }} as boolean) as is_all_day,

        -- times (UTC)
        {{ iso_to_utc(json_text('record', ['Start_DateTime'])) }} as starts_at,
        {{ iso_to_utc(json_text('record', ['End_DateTime'])) }} as ends_at,
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
