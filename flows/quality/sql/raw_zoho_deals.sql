with stages as (
    select stage, max(stage_category) as stage_category
    from {stage_mapping} where source = 'zoho' group by stage
)
select
    d.id,
    d.record->>'id' as record_id,
    nullif(trim(d.record->>'Amount'), '') as amount_text,
    try_cast(nullif(trim(d.record->>'Amount'), '') as decimal(38, 6)) as amount,
    -- numeric, but more than the staging cast to decimal(18, 2) can hold (1e309): dbt would stop
    case when regexp_full_match(nullif(trim(d.record->>'Amount'), ''), '-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')
        and try_cast(d.record->>'Amount' as decimal(18, 2)) is null
        then nullif(trim(d.record->>'Amount'), '') end as unstorable_amount,
    d.record->>'Stage' as stage,
    d.record->>'Currency' as currency,
    d.record->'Owner'->>'id' as owner_id,
    coalesce(s.stage_category in ('won', 'lost'), false)
        and try_cast(d.record->>'Closing_Date' as date) is null as closed_without_close_date,
    try_cast(d.record->>'Created_Time' as timestamptz) as created_at,
    d.modified_at
from {table} as d
left join stages as s on s.stage = d.record->>'Stage'
where {where}
