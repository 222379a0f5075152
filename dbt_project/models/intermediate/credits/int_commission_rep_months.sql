{#- Rep x month inputs of the commission engine: who the rep is (email and role resolve plan
    assignments; hired_on / left_on prorate draws) and the rep's target of the month, already
    prorated by the targets mart (fct_rep_targets_monthly; null = no target configured). -#}
select
    t.rep_id,
    r.email,
    r.role,
    r.hired_on,
    r.left_on,
    t.period_month,
    t.full_target_amount,
    t.target_amount
from {{ ref('fct_rep_targets_monthly') }} as t
inner join {{ ref('dim_sales_reps') }} as r on r.rep_id = t.rep_id
