{#- Cash collected on won deals, the input of pay-on-collection credits: one row per collection.
    - Fxiaoke: every payment (PaymentObj, stg_fxiaoke__payments) of an invoice of a sales order of
      a won deal, dated on its payment date.
    - Zoho: the CRM keeps no payment records; an invoice summarises its payments (Amount_Paid,
      Last_Payment_Date), so each invoice with something paid is one collection of the amount
      paid so far, dated on the last payment date (a later payment re-dates it; a change after a
      period closed is posted as a prior-period adjustment).
    The paid share of an invoice earns the same share of the commission: the collected amount is
    what was paid, at most the rest of the invoice (over-payments earn nothing), converted at the
    exchange rate valid on the payment date (int_exchange_rates_dated, half-up to the cent).
    Payments dated after var('run_date'), deleted records and cancelled Zoho invoices are left out. -#}
with deals as (
    select
        deal_id,
        source,
        source_deal_id
    from {{ ref('fct_deals') }}
    where is_won
),

fx_orders as (
    select
        sales_order_id,
        deal_id as source_deal_id
    from {{ ref('stg_fxiaoke__sales_orders') }}
    where not is_deleted
),

fx_invoices as (
    select
        invoice_id,
        sales_order_id,
        invoice_amount,
        currency
    from {{ ref('stg_fxiaoke__invoices') }}
    where not is_deleted
),

fx_payments as (
    select
        p.payment_id,
        p.invoice_id,
        p.payment_date,
        p.payment_amount,
        coalesce(p.currency, i.currency) as currency,
        i.invoice_amount,
        o.source_deal_id,
        coalesce(
            sum(p.payment_amount) over (
                partition by p.invoice_id
                order by p.payment_date, p.payment_id
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as paid_before
    from {{ ref('stg_fxiaoke__payments') }} as p
    inner join fx_invoices as i on i.invoice_id = p.invoice_id
    inner join fx_orders as o on o.sales_order_id = i.sales_order_id
    where
        not p.is_deleted
        and p.payment_date is not null
        and p.payment_date <= {{ run_date_literal() }}
        and p.payment_amount > 0
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:payment:'", 'payment_id']) }} as collection_id,
        'fxiaoke' as source,
        source_deal_id,
        {{ dbt.concat(["'fxiaoke:'", 'invoice_id']) }} as invoice_id,
        payment_date,
        currency,
        invoice_amount,
        payment_amount,
        -- at most what is still open on the invoice
        case
            when payment_amount < invoice_amount - paid_before then payment_amount
            when invoice_amount - paid_before > 0 then invoice_amount - paid_before
            else 0
        end as collected_amount
    from fx_payments
),

zoho_orders as (
    select
        sales_order_id,
        deal_id as source_deal_id
    from {{ ref('stg_zoho__sales_orders') }}
    where not is_deleted
),

zoho as (
    select
        {{ dbt.concat(["'zoho:invoice:'", 'i.invoice_id']) }} as collection_id,
        'zoho' as source,
        o.source_deal_id,
        {{ dbt.concat(["'zoho:'", 'i.invoice_id']) }} as invoice_id,
        i.last_payment_date as payment_date,
        i.currency,
        i.grand_total as invoice_amount,
        i.amount_paid as payment_amount,
        case when i.amount_paid < i.grand_total then i.amount_paid else i.grand_total end as collected_amount
    from {{ ref('stg_zoho__invoices') }} as i
    inner join zoho_orders as o on o.sales_order_id = i.sales_order_id
    where
        not i.is_deleted
        and coalesce(i.status, '') <> 'Cancelled'
        and i.amount_paid > 0
        and i.last_payment_date is not null
        and i.last_payment_date <= {{ run_date_literal() }}
),

collections as (
    select * from fxiaoke
    union all
    select * from zoho
),

rates as (
    select * from {{ ref('int_exchange_rates_dated') }}
)

select
    c.collection_id,
    d.deal_id,
    c.source,
    c.source_deal_id,
    c.invoice_id,
    c.payment_date,
    {{ month_start('c.payment_date') }} as period_month,
    c.currency,
    cast(c.invoice_amount as decimal(18, 2)) as invoice_amount,
    cast(c.payment_amount as decimal(18, 2)) as payment_amount,
    cast(c.collected_amount as decimal(18, 2)) as collected_amount,
    r.rate_to_reporting,
    {{ round_money('c.collected_amount * r.rate_to_reporting') }} as collected_reporting
from collections as c
inner join deals as d
    on
        d.source = c.source
        and d.source_deal_id = c.source_deal_id
left join rates as r
    on
        r.currency = c.currency
        and r.valid_from <= c.payment_date
        and (r.valid_to is null or r.valid_to > c.payment_date)
where c.collected_amount > 0
