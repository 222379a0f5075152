{#- The settings target decomposition needs, as one row (config/settings.yml). -#}
select
    cast(max(case when setting_key = 'fiscal_year_start_month' then setting_value end) as integer)
        as fiscal_year_start_month,
    coalesce(max(case when setting_key = 'target_month_split' then setting_value end), 'equal')
        as target_month_split,
    coalesce(max(case when setting_key = 'target_day_split' then setting_value end), 'working_days')
        as target_day_split,
    coalesce(max(case when setting_key = 'calendar_default_country' then setting_value end), 'CN')
        as calendar_default_country
from {{ source('salesops_config', 'settings') }}
