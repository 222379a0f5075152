select
    d.id,
    d.record->>'id' as record_id,
    d.record->>'email' as email,
    d.record->>'status' as status,
    d.modified_at
from {table} as d
where {where}
