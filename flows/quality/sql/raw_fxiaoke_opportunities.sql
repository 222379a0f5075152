with stages as (
    select stage, max(stage_category) as stage_category
    from {stage_mapping} where source = 'fxiaoke' group by stage
)
select
    d.id,
    d.record->>'_id' as record_id,
    nullif(trim(d.record->>'amount'), '') as amount_text,
    try_cast(nullif(trim(d.record->>'amount'), '') as decimal(38, 6)) as amount,
    -- numeric, but more than the staging cast to decimal(18, 2) can hold (1e309): dbt would stop
    case when regexp_full_match(nullif(trim(d.record->>'amount'), ''), '-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')
        and try_cast(d.record->>'amount' as decimal(18, 2)) is null
        then nullif(trim(d.record->>'amount'), '') end as unstorable_amount,
    d.record->>'sales_stage__r' as stage,
    d.record->>'mc_currency' as currency,
    d.record->'owner'->>0 as owner_id,
    d.record->>'life_status' as life_status,
    coalesce(s.stage_category in ('won', 'lost'), false)
        and try_cast(d.record->>'close_date' as bigint) is null as closed_without_close_date,
    to_timestamp(try_cast(d.record->>'create_time' as bigint) / 1000.0) as created_at,
    d.modified_at
from {table} as d
left join stages as s on s.stage = d.record->>'sales_stage__r'
where {where}
