{#- Team, region and company targets compared with the sum of their reps' targets, for every
    configured parent target (scope x entered period). Nothing is corrected: a parent that
    differs from its reps by more than var('target_mismatch_tolerance', 0.01) in the reporting
    currency is flagged (is_mismatch). Both sides are the configured monthly targets in the
    reporting currency (int_targets_monthly, before proration) over the parent's period; a
    rep belongs to the team and region the CRM states today. -#}
with parents as (
    select
        scope_type,
        scope_key,
        grain,
        period,
        period_start,
        period_end
    from {{ ref('stg_salesops_config__targets') }}
    where scope_type in ('team', 'region', 'company')
),

monthly as (
    select * from {{ ref('int_targets_monthly') }}
),

rep_scopes as (
    select * from {{ ref('int_target_scopes') }}
    where scope_type = 'rep'
),

parent_amounts as (
    select
        p.scope_type,
        p.scope_key,
        p.grain,
        p.period,
        sum(m.target_amount_reporting) as target_amount
    from parents as p
    inner join monthly as m
        on
            m.scope_type = p.scope_type
            and m.scope_key = p.scope_key
            and m.period_month >= p.period_start
            and m.period_month < p.period_end
    group by p.scope_type, p.scope_key, p.grain, p.period
),

rep_amounts as (
    select
        p.scope_type,
        p.scope_key,
        p.grain,
        p.period,
        sum(m.target_amount_reporting) as reps_target_amount,
        count(distinct m.scope_key) as reps_with_target
    from parents as p
    inner join rep_scopes as r
        on
            (p.scope_type = 'team' and r.team_name = p.scope_key)
            or (p.scope_type = 'region' and r.region_name = p.scope_key)
            or p.scope_type = 'company'
    inner join monthly as m
        on
            m.scope_type = 'rep'
            and m.scope_key = r.scope_key
            and m.period_month >= p.period_start
            and m.period_month < p.period_end
    group by p.scope_type, p.scope_key, p.grain, p.period
),

compared as (
    select
        p.scope_type,
        p.scope_key,
        p.grain as period_grain,
        p.period as period_label,
        p.period_start,
        p.period_end,
        cast(coalesce(pa.target_amount, 0) as decimal(18, 2)) as target_amount,
        cast(coalesce(ra.reps_target_amount, 0) as decimal(18, 2)) as reps_target_amount,
        coalesce(ra.reps_with_target, 0) as reps_with_target
    from parents as p
    left join parent_amounts as pa
        on
            pa.scope_type = p.scope_type and pa.scope_key = p.scope_key
            and pa.grain = p.grain and pa.period = p.period
    left join rep_amounts as ra
        on
            ra.scope_type = p.scope_type and ra.scope_key = p.scope_key
            and ra.grain = p.grain and ra.period = p.period
)

select
    scope_type,
    scope_key,
    period_grain,
    period_label,
    period_start,
    period_end,
    target_amount,
    reps_target_amount,
    reps_with_target,
    cast(target_amount - reps_target_amount as decimal(18, 2)) as difference_amount,
    {{ safe_ratio('target_amount - reps_target_amount', 'reps_target_amount') }} as difference_ratio,
    (
        target_amount - reps_target_amount > {{ var('target_mismatch_tolerance', 0.01) }}
        or reps_target_amount - target_amount > {{ var('target_mismatch_tolerance', 0.01) }})
        as is_mismatch,
    case
        when reps_with_target = 0 then 'no_rep_targets'
        when target_amount - reps_target_amount > {{ var('target_mismatch_tolerance', 0.01) }}
            then 'above_reps'
        when reps_target_amount - target_amount > {{ var('target_mismatch_tolerance', 0.01) }}
            then 'below_reps'
        else 'match'
    end as mismatch_status,
    {{ reporting_currency() }} as currency
from compared
