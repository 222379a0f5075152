{#- Each configured rate is valid from its rate_date until the next rate of the currency
    (half-open); the earliest rate also covers every earlier date. -#}
with rates as (
    select
        currency,
        rate_date,
        rate_to_reporting,
        lead(rate_date) over (partition by currency order by rate_date) as next_rate_date,
        row_number() over (partition by currency order by rate_date) as rate_number
    from {{ ref('stg_salesops_config__exchange_rates') }}
)

select
    currency,
    rate_date,
    case when rate_number = 1 then cast('1900-01-01' as date) else rate_date end as valid_from,
    next_rate_date as valid_to,
    rate_to_reporting
from rates
