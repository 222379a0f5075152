select
    plan_id,
    plan_version,
    component,
    component_type,
    measure,
    cast(weight as decimal(9, 4)) as weight
from {{ source('salesops_config', 'commission_plan_components') }}
