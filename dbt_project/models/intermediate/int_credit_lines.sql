{#- Credited amounts: who gets credit for which sale, when, and how much in the plan currency.
    One row per credit. Set-based crediting; the commission engine (flows/commissions) turns
    these into statement lines.
    - direct / booking: every won deal credits its owner on its close date (credit date) with
      the deal amount converted at the exchange rate valid on that date (fct_deals'
      rate_to_reporting, config/exchange_rates.csv); split_share = 1 (the CRMs carry no split
      data: a deal's revenue splits total 100 %).
    - rollup / booking: the owner's manager as of the credit date (effective-dated hierarchy,
      dim_sales_rep_history, half-open [valid_from, valid_to)) receives the same amount as
      roll-up credit, used by manager override components.
    - reversed_on: the deal's sales orders were all cancelled (int_credit_cancellations); the
      engine claws the credit's paid lines back in that date's period.
    Plans pay in the reporting currency (config/README.md), so credit_amount is amount_reporting.
-#}
with deals as (
    select * from {{ ref('fct_deals') }}
    where is_won and close_date is not null
),

history as (
    select * from {{ ref('dim_sales_rep_history') }}
),

cancellations as (
    select * from {{ ref('int_credit_cancellations') }}
),

direct_credits as (
    select
        deal_id as credit_id,
        deal_id,
        rep_id,
        'direct' as credit_kind,
        'booking' as credit_basis,
        close_date as credit_date,
        cast(1 as decimal(9, 6)) as split_share,
        amount as original_amount,
        currency as original_currency,
        rate_to_reporting as fx_rate,
        {{ to_money('amount_reporting') }} as credit_amount
    from deals
    where rep_id is not null
),

rollup_credits as (
    select
        {{ dbt.concat(['d.deal_id', "'>'", 'h.manager_id']) }} as credit_id,
        d.deal_id,
        h.manager_id as rep_id,
        'rollup' as credit_kind,
        d.credit_basis,
        d.credit_date,
        d.split_share,
        d.original_amount,
        d.original_currency,
        d.fx_rate,
        d.credit_amount
    from direct_credits as d
    inner join history as h
        on h.rep_id = d.rep_id
        and h.valid_from <= d.credit_date
        and (h.valid_to is null or d.credit_date < h.valid_to)
    where h.manager_id is not null
),

credits as (
    select * from direct_credits
    union all
    select * from rollup_credits
)

select
    c.credit_id,
    c.deal_id,
    c.rep_id,
    c.credit_kind,
    c.credit_basis,
    c.credit_date,
    {{ month_start('c.credit_date') }} as period_month,
    c.split_share,
    c.original_amount,
    c.original_currency,
    c.fx_rate,
    c.credit_amount,
    x.reversed_on
from credits as c
left join cancellations as x on x.deal_id = c.deal_id
