select
    d.id,
    d.record->>'id' as record_id,
    d.record->'Owner'->>'id' as owner_id,
    d.modified_at
from {table} as d
where {where}
