{#- Invoices of both CRMs with what has been paid on them, in the invoice currency. Zoho
    invoices carry the paid amount (amount_paid) and last payment date; Fxiaoke payments are
    summed per invoice (payments dated after var('run_date') are ignored). Cancelled Zoho
    invoices and deleted records are left out. Balance = total - paid. -#}
with fx_payments as (
    select
        invoice_id,
        sum(payment_amount) as amount_paid,
        max(payment_date) as last_payment_date
    from {{ ref('stg_fxiaoke__payments') }}
    where
        not is_deleted and invoice_id is not null
        and (payment_date is null or payment_date <= {{ run_date_literal() }})
    group by 1
),

zoho as (
    select
        {{ dbt.concat(["'zoho:'", 'invoice_id']) }} as invoice_id,
        'zoho' as source,
        case when account_id is not null then {{ dbt.concat(["'zoho:'", 'account_id']) }} end as account_id,
        case when owner_id is not null then {{ dbt.concat(["'zoho:'", 'owner_id']) }} end as owner_rep_id,
        invoice_date,
        due_date,
        grand_total as invoice_amount,
        coalesce(amount_paid, 0) as amount_paid,
        last_payment_date,
        currency
    from {{ ref('stg_zoho__invoices') }}
    where not is_deleted and coalesce(status, '') <> 'Cancelled'
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:'", 'i.invoice_id']) }} as invoice_id,
        'fxiaoke' as source,
        case when i.account_id is not null then {{ dbt.concat(["'fxiaoke:'", 'i.account_id']) }} end
            as account_id,
        case when i.owner_id is not null then {{ dbt.concat(["'fxiaoke:'", 'i.owner_id']) }} end
            as owner_rep_id,
        i.invoice_date,
        i.due_date,
        i.invoice_amount,
        coalesce(p.amount_paid, 0) as amount_paid,
        p.last_payment_date,
        i.currency
    from {{ ref('stg_fxiaoke__invoices') }} as i
    left join fx_payments as p on p.invoice_id = i.invoice_id
    where not i.is_deleted
),

unioned as (
    select * from zoho
    union all
    select * from fxiaoke
)

select
    *,
    invoice_amount - amount_paid as balance,
    case
        when amount_paid >= invoice_amount and last_payment_date is not null and due_date is not null
            then {{ dbt.datediff('due_date', 'last_payment_date', 'day') }}
    end as payment_delay_days
from unioned
where invoice_date is null or invoice_date <= {{ run_date_literal() }}
