{#- RFM of every customer (account with at least one won deal) as of var('run_date'):
    recency = days from the last won deal's close date to the run date, frequency = won deals,
    monetary = won amount (reporting currency). Each becomes a quintile score 1-5, 5 best
    (recent, frequent, high value): score = 1 + floor(5 x (rank - 1) / customers) with rank()
    over the measure from worst to best, so equal values always get the same score (ties are
    never split between quintiles) and the result does not depend on row order. -#}
with purchases as (
    select
        account_id,
        max(close_date) as last_purchase_date,
        count(*) as frequency,
        sum(coalesce(amount_reporting, 0)) as monetary
    from {{ ref('fct_deals') }}
    where
        is_won and account_id is not null and close_date is not null
        and close_date <= {{ run_date_literal() }}
    group by 1
),

measured as (
    select
        account_id,
        last_purchase_date,
        {{ dbt.datediff('last_purchase_date', run_date_literal(), 'day') }} as recency_days,  -- noqa: LT05
        frequency,
        monetary
    from purchases
),

ranked as (
    select
        *,
        count(*) over () as customers,
        rank() over (order by recency_days desc) as recency_rank,
        rank() over (order by frequency) as frequency_rank,
        rank() over (order by monetary) as monetary_rank
    from measured
)

select
    account_id,
    last_purchase_date,
    recency_days,
    frequency,
    cast(monetary as decimal(18, 2)) as monetary,
    1 + cast(floor(5.0 * (recency_rank - 1) / customers) as integer) as recency_score,
    1 + cast(floor(5.0 * (frequency_rank - 1) / customers) as integer) as frequency_score,
    1 + cast(floor(5.0 * (monetary_rank - 1) / customers) as integer) as monetary_score
from ranked
