select
    source,
    source_deal_id,
    lower(rep_email) as rep_email,
    cast(split_share as decimal(9, 6)) as split_share,
    split_type,
    source_row
from {{ source('salesops_config', 'deal_splits') }}
