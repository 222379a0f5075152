select
    region_name,
    country_code
from {{ source('salesops_config', 'calendar_regions') }}
