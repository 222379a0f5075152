select
    assignment_id,
    plan_id,
    role,
    lower(rep_email) as rep_email,
    rep_id,
    valid_from,
    valid_to
from {{ source('salesops_config', 'commission_plan_assignments') }}
