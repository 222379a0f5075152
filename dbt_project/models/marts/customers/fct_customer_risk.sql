{#- Credit risk per account as of var('run_date'): a customer is high risk when it has a
    balance overdue more than var('risk_overdue_days', 60) days, when its open balance exceeds
    its credit limit (compared in the invoice currency when all its open invoices share one
    currency, the credit limit being kept in the account's currency), or when its payments are
    getting later: the mean delay (payment date - due date, fully paid invoices) of invoices
    due in the last 180 days exceeds that of the 180 days before by more than
    var('risk_delay_worsening_days', 7) days. risk_reasons lists every reason that applies. -#}
{%- set overdue_days = var('risk_overdue_days', 60) -%}
{%- set worsening_days = var('risk_delay_worsening_days', 7) -%}

with invoices as (
    select
        *,
        case
            when due_date is not null
                then {{ dbt.datediff('due_date', run_date_literal(), 'day') }}
        end as days_past_due
    from {{ ref('int_customer_invoices') }}
    where account_id is not null
),

customers as (
    select * from {{ ref('dim_customers') }}
),

balances as (
    select
        account_id,
        sum(case when balance > 0 then balance else 0 end) as open_balance,
        sum(case when balance > 0 and days_past_due > {{ overdue_days }} then balance else 0 end)
            as overdue_beyond_threshold,
        max(case when balance > 0 then days_past_due end) as max_days_past_due,
        count(distinct case when balance > 0 then currency end) as open_currencies,
        max(case when balance > 0 then currency end) as open_currency
    from invoices
    group by 1
),

delays as (
    select
        account_id,
        avg(case
            when due_date > cast({{ dbt.dateadd('day', -180, run_date_literal()) }} as date)
                then payment_delay_days
        end) as recent_delay_days,
        avg(case
            when
                due_date <= cast({{ dbt.dateadd('day', -180, run_date_literal()) }} as date)
                and due_date > cast({{ dbt.dateadd('day', -360, run_date_literal()) }} as date)
                then payment_delay_days
        end) as prior_delay_days
    from invoices
    where payment_delay_days is not null
    group by 1
),

flagged as (
    select
        c.account_id,
        c.account_name,
        c.source,
        c.owner_rep_id,
        c.owner_name,
        c.credit_limit,
        b.open_currency,
        coalesce(b.open_balance, 0) as open_balance,
        coalesce(b.overdue_beyond_threshold, 0) as overdue_beyond_threshold,
        cast(b.max_days_past_due as bigint) as max_days_past_due,
        cast(round(cast(d.recent_delay_days as decimal(38, 10)), 1) as decimal(18, 1))
            as recent_payment_delay_days,
        cast(round(cast(d.prior_delay_days as decimal(38, 10)), 1) as decimal(18, 1))
            as prior_payment_delay_days,
        coalesce(b.overdue_beyond_threshold, 0) > 0 as is_overdue_beyond_threshold,
        coalesce(
            c.credit_limit is not null and b.open_currencies = 1 and b.open_balance > c.credit_limit, false
        )
            as is_over_credit_limit,
        coalesce(d.recent_delay_days - d.prior_delay_days > {{ worsening_days }}, false)
            as is_payment_delay_worsening
    from customers as c
    left join balances as b on b.account_id = c.account_id
    left join delays as d on d.account_id = c.account_id
    where b.account_id is not null or d.account_id is not null or c.credit_limit is not null
)

select
    f.*,
    (f.is_overdue_beyond_threshold or f.is_over_credit_limit or f.is_payment_delay_worsening) as is_high_risk,
    case
        when f.is_overdue_beyond_threshold or f.is_over_credit_limit or f.is_payment_delay_worsening
            then substr({{ dbt.concat([
            "case when f.is_overdue_beyond_threshold then '; overdue beyond " ~ overdue_days ~ " days' else '' end",
            "case when f.is_over_credit_limit then '; credit limit exceeded' else '' end",
            "case when f.is_payment_delay_worsening then '; payment delay worsening' else '' end"]) }}, 3)
    end as risk_reasons,
    {{ overdue_days }} as overdue_threshold_days
from flagged as f
