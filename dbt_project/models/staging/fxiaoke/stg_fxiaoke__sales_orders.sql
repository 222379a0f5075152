with source as (
    -- rows the data-quality gate quarantined stay out (flows/checks.py, raw_fxiaoke_sales_orders)
    select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_sales_orders') }}
),

renamed as (
    select
        -- ids
        id as sales_order_id,
        {{ json_text('record', ['opportunity_id']) }} as deal_id,
        {{ json_text('record', ['account_id']) }} as account_id,
        {{ json_text('record', ['owner', 0]) }} as owner_id,

        -- status: a cancelled order stays a live record (life_status normal), flagged here
        {{ json_text('record', ['order_status']) }} as order_status,
        coalesce({{ json_text('record', ['order_status']) }} = 'cancelled', false) as is_cancelled,
        {{ epoch_ms_to_utc(json_text('record', ['field_cancelled_time__c'])) }} as cancelled_at,

        -- dates (Asia/Shanghai), amounts (string -> decimal), timestamps (UTC)
        {{ epoch_ms_to_local_date(json_text('record', ['order_time'])) }} as order_date,
        {{ to_money(json_text('record', ['order_amount'])) }} as order_amount,
        {{ json_text('record', ['mc_currency']) }} as currency,
        {{ epoch_ms_to_utc(json_text('record', ['create_time'])) }} as created_at,
        {{ epoch_ms_to_utc(json_text('record', ['last_modified_time'])) }} as modified_at,

        -- landing metadata
        {{ landing_metadata() }}
    from source
)

select * from renamed
