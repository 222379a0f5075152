with source as (
    -- rows the data-quality gate quarantined stay out (flows/checks.py, raw_zoho_invoices)
    select * from {{ exclude_quarantined('zoho', 'zoho_invoices') }}
),

renamed as (
    select
        -- ids
        id as invoice_id,
        {{ json_text('record', ['Sales_Order', 'id']) }} as sales_order_id,
        {{ json_text('record', ['Account_Name', 'id']) }} as account_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,

        -- attributes
        {{ json_text('record', ['Invoice_Number']) }} as invoice_number,
        {{ json_text('record', ['Status']) }} as status,

        -- dates (calendar dates as Zoho sends them)
        cast({{ json_text('record', ['Invoice_Date']) }} as date) as invoice_date,
        cast({{ json_text('record', ['Due_Date']) }} as date) as due_date,
        -- org custom fields: Zoho has no payments module, payments are summarised on the invoice
        cast({{ json_text('record', ['Last_Payment_Date']) }} as date) as last_payment_date,

        -- numbers (exact decimals from the JSON text)
        {{ to_money(json_text('record', ['Grand_Total'])) }} as grand_total,
        {{ to_money(json_text('record', ['Amount_Paid'])) }} as amount_paid,
        {{ json_text('record', ['Currency']) }} as currency,
        cast({{ json_text('record', ['Exchange_Rate']) }} as decimal(18, 8)) as crm_exchange_rate,

        -- timestamps (UTC)
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
