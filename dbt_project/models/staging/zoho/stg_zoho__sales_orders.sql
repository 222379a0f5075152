with source as (
    -- rows the data-quality gate quarantined stay out (flows/checks.py, raw_zoho_sales_orders)
    select * from {{ exclude_quarantined('zoho', 'zoho_sales_orders') }}
),

renamed as (
    select
        -- ids
        id as sales_order_id,
        {{ json_text('record', ['Deal_Name', 'id']) }} as deal_id,
        {{ json_text('record', ['Account_Name', 'id']) }} as account_id,
        {{ json_text('record', ['Owner', 'id']) }} as owner_id,

        -- attributes
        {{ json_text('record', ['Subject']) }} as subject,
        {{ json_text('record', ['SO_Number']) }} as so_number,
        {{ json_text('record', ['Status']) }} as status,

        -- dates: the org custom field Order_Date, else the org-local date of Created_Time (the
        -- first 10 characters of the ISO text, which carries the org's offset)
        cast(
            coalesce(
                {{ json_text('record', ['Order_Date']) }},
                substr({{ json_text('record', ['Created_Time']) }}, 1, 10)
            ) as date
        ) as order_date,
        cast({{ json_text('record', ['Due_Date']) }} as date) as due_date,

        -- numbers (exact decimals from the JSON text)
        {{ to_money(json_text('record', ['Grand_Total'])) }} as grand_total,
        {{ json_text('record', ['Currency']) }} as currency,
        cast({{ json_text('record', ['Exchange_Rate']) }} as decimal(18, 8)) as crm_exchange_rate,

        -- cancellation: Zoho keeps no cancel time; Modified_Time of a Cancelled order is it
        coalesce({{ json_text('record', ['Status']) }} = 'Cancelled', false) as is_cancelled,
        case
            when {{ json_text('record', ['Status']) }} = 'Cancelled'
                then {{ iso_to_utc(json_text('record', ['Modified_Time'])) }}
        end as cancelled_at,

        -- timestamps (UTC)
        {{ iso_to_utc(json_text('record', ['Created_Time'])) }} as created_at,
        {{ iso_to_utc(json_text('record', ['Modified_Time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
