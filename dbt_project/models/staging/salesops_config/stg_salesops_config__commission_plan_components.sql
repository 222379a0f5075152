select
    plan_id,
    plan_version,
    component,
    component_type,
    measure,
    cast(weight as decimal(9, 4)) as weight,
    tier_position,
    cast(rate as decimal(9, 6)) as rate
from {{ source('salesops_config', 'commission_plan_components') }}
