select
    d.id,
    d.record->>'_id' as record_id,
    d.record->>'name' as name,
    d.record->'owner'->>0 as owner_id,
    nullif(trim(d.record->>'field_annual_revenue__c'), '') as annual_revenue_text,
    try_cast(nullif(trim(d.record->>'field_annual_revenue__c'), '') as decimal(38, 6)) as annual_revenue,
    d.modified_at
from {table} as d
where {where}
