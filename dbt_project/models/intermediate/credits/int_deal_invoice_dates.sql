{#- The first invoice date of every won deal: the anchor of clawback windows counted from the
    invoice (`clawback: {anchor: invoice_date}`, flows/commissions/clawback_windows.py). Invoices
    of the deal's sales orders, deleted records and cancelled Zoho invoices left out, invoices
    dated after var('run_date') too. -#}
with deals as (
    select
        deal_id,
        source,
        source_deal_id
    from {{ ref('fct_deals') }}
    where is_won
),

fx_invoices as (
    select
        'fxiaoke' as source,
        o.deal_id as source_deal_id,
        i.invoice_date
    from {{ ref('stg_fxiaoke__invoices') }} as i
    inner join {{ ref('stg_fxiaoke__sales_orders') }} as o on o.sales_order_id = i.sales_order_id
    where not i.is_deleted and not o.is_deleted
),

zoho_invoices as (
    select
        'zoho' as source,
        o.deal_id as source_deal_id,
        i.invoice_date
    from {{ ref('stg_zoho__invoices') }} as i
    inner join {{ ref('stg_zoho__sales_orders') }} as o on o.sales_order_id = i.sales_order_id
    where
        not i.is_deleted
        and not o.is_deleted
        and coalesce(i.status, '') <> 'Cancelled'
),

invoices as (
    select * from fx_invoices
    union all
    select * from zoho_invoices
)

select
    d.deal_id,
    min(v.invoice_date) as first_invoice_date
from invoices as v
inner join deals as d
    on
        d.source = v.source
        and d.source_deal_id = v.source_deal_id
where v.invoice_date is not null and v.invoice_date <= {{ run_date_literal() }}
group by d.deal_id
