select
    d.id,
    d.record->>'id' as record_id,
    d.record->>'Account_Name' as name,
    d.record->'Owner'->>'id' as owner_id,
    nullif(trim(d.record->>'Annual_Revenue'), '') as annual_revenue_text,
    try_cast(nullif(trim(d.record->>'Annual_Revenue'), '') as decimal(38, 6)) as annual_revenue,
    d.modified_at
from {table} as d
where {where}
