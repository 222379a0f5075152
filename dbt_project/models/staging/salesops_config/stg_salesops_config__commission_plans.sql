select
    plan_id,
    plan_version,
    plan_name,
    effective_from,
    effective_to,
    currency,
    credit_on
from {{ source('salesops_config', 'commission_plans') }}
