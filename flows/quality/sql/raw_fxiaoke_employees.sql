select
    d.id,
    d.record->>'openUserId' as record_id,
    d.record->>'name' as name,
    d.record->>'isStop' as is_stop,
    d.modified_at
from {table} as d
where {where}
