select
    plan_id,
    plan_version,
    component,
    tier_number,
    cast(band_lower as decimal(18, 4)) as band_lower,
    cast(band_upper as decimal(18, 4)) as band_upper,
    cast(rate as decimal(9, 6)) as rate
from {{ source('salesops_config', 'commission_plan_tiers') }}
