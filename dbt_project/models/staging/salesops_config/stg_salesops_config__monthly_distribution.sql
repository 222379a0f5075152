select
    fiscal_month,
    cast(share_pct as decimal(7, 4)) as share_pct
from {{ source('salesops_config', 'monthly_distribution') }}
