-- raw id is '<deal_id>:<history_id>' (flows/crm/zoho/reads.py); the history entry itself has no deal key.
{{ config(
    materialized=staging_materialization(),
    incremental_strategy='delete+insert',
    unique_key=['deal_id', 'history_id'],
    on_schema_change='fail',
    post_hook="{{ drop_quarantined('zoho_deals', 'deal_id') }}"
) }}

with source as (
    select * from {{ exclude_quarantined('zoho', 'zoho_deal_stage_history',
                                    id_column="split_part(landed.id, ':', 1)",
                                    quarantined_table='zoho_deals') }}
    {{ landed_since_last_build("split_part(id, ':', 1)", 'zoho_deals') }}
),

renamed as (
    select
        -- ids
        split_part(id, ':', 2) as history_id,
        split_part(id, ':', 1) as deal_id,
        {{ json_text('record', ['Modified_By', 'id']) }} as changed_by_id,

        -- attributes
        {{ json_text('record', ['Stage']) }} as stage,

        -- numbers (exact decimals from the JSON text)
        {{ to_money(json_text('record', ['Amount'])) }} as amount,
        cast({{ json_text('record', ['Probability']) }} as decimal(5, 2)) as probability,

        -- dates and timestamps (UTC)
        cast({{ json_text('record', ['Closing_Date']) }} as date) as closing_date,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as changed_at,

        -- landing metadata
        is_deleted,
        {{ tz_to_utc('loaded_at') }} as loaded_at,
        run_id
    from source
)

select * from renamed
