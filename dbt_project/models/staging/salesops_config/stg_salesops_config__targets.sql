select
    scope_type,
    scope_key,
    grain,
    period,
    period_start,
    period_end,
    cast(target_amount as decimal(18, 2)) as target_amount,
    currency,
    source_file,
    source_row
from {{ source('salesops_config', 'targets') }}
