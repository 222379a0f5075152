{#- The open pipeline of var('run_date') by stage, one row per CRM source and open stage that a
    deal has ever been in (stage history or current stage): deals, amount, and amount weighted
    by each deal's probability. Read from that date's snapshot in fct_pipeline_snapshots, so
    it agrees with the history; a stage without open deals shows 0. -#}
with snapshots as (
    select * from {{ ref('fct_pipeline_snapshots') }}
    where snapshot_date = {{ run_date_literal() }}
),

stages as (
    select * from {{ ref('crm_stage_mapping') }}
    where stage_category = 'open'
),

used_stages as (
    select distinct
        source,
        stage
    from {{ ref('fct_deal_stage_transitions') }}

    union

    select distinct
        source,
        stage
    from {{ ref('fct_deals') }}
),

stage_list as (
    -- every open stage a deal has been in, and any stage of the snapshot (an unmapped one too)
    select
        s.source,
        s.stage
    from stages as s
    inner join used_stages as u on u.source = s.source and u.stage = s.stage

    union

    select distinct
        source,
        stage
    from snapshots
),

by_stage as (
    select
        source,
        stage,
        count(*) as deals_count,
        sum(coalesce(amount_reporting, 0)) as amount_reporting,
        -- times 0.01, not / 100: a decimal product is exact on every engine, a quotient is not
        sum(coalesce(amount_reporting, 0) * coalesce(probability, 0) * 0.01) as weighted_amount_reporting
    from snapshots
    group by source, stage
)

select
    {{ run_date_literal() }} as as_of_date,
    cast(s.source as {{ type_varchar() }}) as source,
    cast(s.stage as {{ type_varchar() }}) as stage,
    cast(m.stage_order as bigint) as stage_order,
    cast(coalesce(b.deals_count, 0) as bigint) as deals_count,
    cast(coalesce(b.amount_reporting, 0) as decimal(18, 2)) as amount_reporting,
    {{ round_money('coalesce(b.weighted_amount_reporting, 0)') }} as weighted_amount_reporting,
    cast({{ reporting_currency() }} as {{ type_varchar() }}) as reporting_currency
from stage_list as s
left join stages as m on m.source = s.source and m.stage = s.stage
left join by_stage as b on b.source = s.source and b.stage = s.stage
