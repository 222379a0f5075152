select
    currency,
    rate_date,
    cast(rate_to_reporting as decimal(18, 8)) as rate_to_reporting,
    reporting_currency
from {{ source('salesops_config', 'exchange_rates') }}
