with payments as (
    -- rows the data-quality gate quarantined stay out (flows/checks.py, raw_fxiaoke_payments)
    select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_payments') }}
),

payments_of_live_invoices as (
    -- the payments of a quarantined invoice stay out too: they only count against their invoice
    select id from {{ exclude_quarantined('fxiaoke', 'fxiaoke_payments',
                                          id_column=json_text('landed.record', ['field_invoice_id__c']),
                                          quarantined_table='fxiaoke_invoices') }}
),

source as (
    select payments.*
    from payments
    where payments.id in (select live.id from payments_of_live_invoices as live)
),

renamed as (
    select
        -- ids
        id as payment_id,
        {{ json_text('record', ['field_invoice_id__c']) }} as invoice_id,
        {{ json_text('record', ['order_id']) }} as sales_order_id,
        {{ json_text('record', ['account_id']) }} as account_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- dates (Asia/Shanghai), amounts (string -> decimal), timestamps (UTC)
        {{ epoch_ms_to_local_date(json_text('record', ['payment_time'])) }} as payment_date,
        {{ to_money(json_text('record', ['payment_amount'])) }} as payment_amount,
        {{ json_text('record', ['mc_currency']) }} as currency,
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
