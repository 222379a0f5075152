{{ config(
    severity='warn',
    store_failures=true,
    meta={
        'gate_severity': 'critical',
        'gate_suite': 'marts_reconciliation',
        'column': 'reps_on_plan_without_target',
        'description': 'every rep with commission lines in a month has a target for that month',
    },
) }}
{#- Every rep paid under a plan in a month has a (positive) target for that month; returns the
    rep-months that do not. -#}
select distinct c.rep_id, c.period_month
from {{ ref('fct_commissions') }} as c
where not exists (
    select 1
    from {{ ref('fct_rep_targets_monthly') }} as t
    where t.rep_id = c.rep_id
        and t.period_month = c.period_month
        and t.target_amount > 0
)
