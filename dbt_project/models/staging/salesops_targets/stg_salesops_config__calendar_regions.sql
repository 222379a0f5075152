select
    region_name,
    country_code
from {{ source('salesops_calendar', 'calendar_regions') }}
