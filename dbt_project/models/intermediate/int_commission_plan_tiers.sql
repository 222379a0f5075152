{#- Rate bands of every plan component, with the component's type and weight. -#}
select
    t.plan_id,
    t.plan_version,
    t.component,
    c.component_type,
    c.measure,
    c.weight,
    t.tier_number,
    t.band_lower,
    t.band_upper,
    t.rate
from {{ ref('stg_salesops_config__commission_plan_tiers') }} as t
inner join {{ ref('stg_salesops_config__commission_plan_components') }} as c
    on c.plan_id = t.plan_id
    and c.plan_version = t.plan_version
    and c.component = t.component
