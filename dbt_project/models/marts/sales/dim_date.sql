{#- The company calendar, one row per day from 2015-01-01 to the end of the year after the run
    date. Working days: when the warehouse has a `config.calendar` table (flows/calendar.py:
    public holidays, China's make-up working days, company overrides; one row per country and
    date) the calendar of the company's default country (config.settings
    calendar_default_country, 'CN' when unset) decides; otherwise every weekday is a working day
    and weekends are not. The table is looked up when the model runs, so the mart works before
    and after config.calendar exists. -#}
{%- set run_value = var('run_date', '') or modules.datetime.date.today().isoformat() -%}
{%- set run_day = modules.datetime.date.fromisoformat(run_value) -%}
{%- set first_day = modules.datetime.date(2015, 1, 1) -%}
{%- set last_day = modules.datetime.date(run_day.year + 1, 12, 31) -%}
{%- set n_days = (last_day - first_day).days + 1 -%}

{%- set calendar = none -%}
{%- set has_country = [] -%}
{%- set settings_rel = none -%}
{%- if execute -%}
    {%- set calendar = adapter.get_relation(
        database=target.database, schema='config', identifier='calendar') -%}
    {%- if calendar is not none -%}
        {%- set names = adapter.get_columns_in_relation(calendar) | map(attribute='name') | map('lower') | list -%}
        {%- for needed in ['calendar_date', 'is_working_day', 'is_public_holiday', 'holiday_name'] -%}
            {%- if needed not in names -%}{%- set calendar = none -%}{%- endif -%}
        {%- endfor -%}
        {%- if 'country_code' in names -%}{%- do has_country.append(1) -%}{%- endif -%}
        {%- set settings_rel = adapter.get_relation(database=target.database, schema='config', identifier='settings') -%}
    {%- endif -%}
{%- endif %}

with day_numbers as (
    {{ dbt.generate_series(n_days) }}
),

days as (
    select
        {%- set first_date = "cast('" ~ first_day.isoformat() ~ "' as date)" %}
        cast({{ dbt.dateadd('day', 'generated_number - 1', first_date) }} as date) as date_day
    from day_numbers
),

{% if calendar is not none -%}
default_country as (
    select
        {% if settings_rel is not none -%}
        coalesce(max(case when setting_key = 'calendar_default_country' then setting_value end), 'CN')
        {%- else -%}
        'CN'
        {%- endif %} as country_code
    {% if settings_rel is not none %}from {{ settings_rel }}{% endif %}
),

calendar as (
    select
        c.calendar_date,
        c.holiday_name,
        case when c.is_working_day then 1 else 0 end as working_flag,
        case when c.is_public_holiday then 1 else 0 end as holiday_flag
    from {{ calendar }} as c
    {% if has_country %}inner join default_country as dc on dc.country_code = c.country_code{% endif %}
),
{%- else -%}
    calendar as (
        select
            cast(null as date) as calendar_date,
            cast(null as {{ dbt.type_string() }}) as holiday_name,
            cast(null as integer) as working_flag,
            cast(null as integer) as holiday_flag
        where 1 = 0
    ),
{%- endif %}

enriched as (
    select
        d.date_day,
        cast(extract(year from d.date_day) as integer) as calendar_year,
        cast(extract(quarter from d.date_day) as integer) as calendar_quarter,
        cast(extract(month from d.date_day) as integer) as calendar_month,
        cast(extract(day from d.date_day) as integer) as day_of_month,
        cast({{ iso_day_of_week('d.date_day') }} as integer) as iso_day_of_week,
        cast({{ dbt.date_trunc('month', 'd.date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'd.date_day') }} as date) as quarter_start,
        cast({{ dbt.date_trunc('year', 'd.date_day') }} as date) as year_start,
        c.calendar_date is not null as in_company_calendar,
        c.holiday_name,
        c.working_flag,
        c.holiday_flag
    from days as d
    left join calendar as c on c.calendar_date = d.date_day
)

select
    date_day,
    calendar_year,
    calendar_quarter,
    calendar_month,
    day_of_month,
    iso_day_of_week,
    month_start,
    quarter_start,
    year_start,
    iso_day_of_week in (6, 7) as is_weekend,
    coalesce(holiday_flag = 1, false) as is_holiday,
    holiday_name,
    case
        when working_flag is not null then working_flag = 1
        else iso_day_of_week not in (6, 7)
    end as is_working_day,
    {{ "'config.calendar'" if calendar is not none else "'weekends only'" }} as calendar_source
from enriched
