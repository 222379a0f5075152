{#- Per period: won revenue (fct_deals, reporting currency) against the direct credits
    (int_credit_lines). Revenue splits total 100 %, so credited_amount must equal won_amount x
    split shares = won_amount; `difference` must be 0 (a data test). -#}
with won as (
    select
        {{ month_start('close_date') }} as period_month,
        sum({{ to_money('amount_reporting') }}) as won_amount,
        count(*) as deals_won
    from {{ ref('fct_deals') }}
    where is_won and close_date is not null and rep_id is not null
    group by {{ month_start('close_date') }}
),

credited as (
    select
        period_month,
        sum(credit_amount) as credited_amount,
        sum(split_share) as split_shares
    from {{ ref('int_credit_lines') }}
    where credit_kind = 'direct'
    group by period_month
)

select
    coalesce(w.period_month, c.period_month) as period_month,
    coalesce(w.deals_won, 0) as deals_won,
    cast(coalesce(w.won_amount, 0) as decimal(18, 2)) as won_amount,
    cast(coalesce(c.split_shares, 0) as decimal(18, 6)) as split_shares,
    cast(coalesce(c.credited_amount, 0) as decimal(18, 2)) as credited_amount,
    cast(coalesce(c.credited_amount, 0) - coalesce(w.won_amount, 0) as decimal(18, 2)) as difference
from won as w
full outer join credited as c on c.period_month = w.period_month
