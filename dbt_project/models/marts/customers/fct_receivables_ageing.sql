{#- Receivables by customer and invoice currency as of var('run_date'): open balances by age
    past the due date (not yet due, 1-30, 31-60, 61-90, over 90 days), in the invoice currency
    and in the reporting currency at the configured rate valid on the run date, and DSO = open
    balance / invoiced in the last 90 days x 90 (null when nothing was invoiced). Company DSO =
    Σ open balance / Σ invoiced last 90 days x 90 over the rows. -#}
with invoices as (
    select
        *,
        case
            when due_date is not null
                then {{ dbt.datediff('due_date', run_date_literal(), 'day') }}
        end as days_past_due
    from {{ ref('int_customer_invoices') }}
),

rates as (
    select * from {{ ref('int_exchange_rates_dated') }}
    where
        valid_from <= {{ run_date_literal() }}
        and (valid_to is null or {{ run_date_literal() }} < valid_to)
),

customers as (
    select * from {{ ref('dim_customers') }}
),

by_customer as (
    select
        account_id,
        source,
        currency,
        cast(sum(case when balance > 0 then 1 else 0 end) as bigint) as open_invoices,
        sum(case when balance > 0 then balance else 0 end) as open_balance,
        sum(case when balance > 0 and (days_past_due is null or days_past_due <= 0) then balance else 0 end)
            as not_due,
        sum(case when balance > 0 and days_past_due between 1 and 30 then balance else 0 end) as overdue_1_30,
        sum(case when balance > 0 and days_past_due between 31 and 60 then balance else 0 end)
            as overdue_31_60,
        sum(case when balance > 0 and days_past_due between 61 and 90 then balance else 0 end)
            as overdue_61_90,
        sum(case when balance > 0 and days_past_due > 90 then balance else 0 end) as overdue_over_90,
        max(case when balance > 0 then days_past_due end) as max_days_past_due,
        sum(case
            when invoice_date > cast({{ dbt.dateadd('day', -90, run_date_literal()) }} as date)
                then invoice_amount
            else 0
        end) as invoiced_last_90_days
    from invoices
    group by 1, 2, 3
)

select
    {{ dbt.concat(["coalesce(b.account_id, '(no account)')", "'|'", "coalesce(b.currency, '')"]) }} as receivable_key,  -- noqa: LT05
    b.account_id,
    c.account_name,
    b.source,
    c.owner_rep_id,
    c.owner_name,
    b.currency,
    b.open_invoices,
    cast(b.open_balance as decimal(18, 2)) as open_balance,
    cast(b.not_due as decimal(18, 2)) as not_due,
    cast(b.overdue_1_30 as decimal(18, 2)) as overdue_1_30,
    cast(b.overdue_31_60 as decimal(18, 2)) as overdue_31_60,
    cast(b.overdue_61_90 as decimal(18, 2)) as overdue_61_90,
    cast(b.overdue_over_90 as decimal(18, 2)) as overdue_over_90,
    cast(b.open_balance - b.not_due as decimal(18, 2)) as overdue_balance,
    cast(b.max_days_past_due as bigint) as max_days_past_due,
    cast(b.invoiced_last_90_days as decimal(18, 2)) as invoiced_last_90_days,
    case
        when b.invoiced_last_90_days > 0
            then
                cast(
                    round(
                        cast(
                            cast(b.open_balance as decimal(38, 10))
                            / b.invoiced_last_90_days
                            * 90 as decimal(38, 10)
                        ),
                        1
                    ) as decimal(18, 1)
                )
    end as dso_days,
    r.rate_to_reporting,
    {{ round_money('b.open_balance * r.rate_to_reporting') }} as open_balance_reporting,
    {{ round_money('(b.open_balance - b.not_due) * r.rate_to_reporting') }} as overdue_balance_reporting,
    {{ round_money('b.invoiced_last_90_days * r.rate_to_reporting') }} as invoiced_last_90_days_reporting,
    {{ reporting_currency() }} as reporting_currency
from by_customer as b
left join customers as c on c.account_id = b.account_id
left join rates as r on r.currency = b.currency
