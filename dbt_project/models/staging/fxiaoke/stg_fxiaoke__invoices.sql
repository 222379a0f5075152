with source as (
    -- rows the data-quality gate quarantined stay out (flows/checks.py, raw_fxiaoke_invoices)
    select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_invoices') }}
),

renamed as (
    select
        -- ids
        id as invoice_id,
        {{ json_text('record', ['order_id']) }} as sales_order_id,
        {{ json_text('record', ['account_id']) }} as account_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- dates (Asia/Shanghai), amounts (string -> decimal), timestamps (UTC)
        {{ epoch_ms_to_local_date(json_text('record', ['invoice_date'])) }} as invoice_date,
        {{ epoch_ms_to_local_date(json_text('record', ['field_due_date__c'])) }} as due_date,
        {{ to_money(json_text('record', ['invoice_amount'])) }} as invoice_amount,
        {{ json_text('record', ['mc_currency']) }} as currency,
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
