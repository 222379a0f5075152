{#- Every timestamp in staging and marts is UTC without a time zone (TIMESTAMP), whatever the
    session time zone; dates are calendar dates in the zone stated by the column. -#}

{#- ISO-8601 text with an offset ('2025-06-01T10:00:00-07:00') -> UTC timestamp. -#}
{% macro iso_to_utc(expr) -%}
    {{ return(adapter.dispatch('iso_to_utc', 'salesops')(expr)) }}
{%- endmacro %}
{% macro default__iso_to_utc(expr) -%}
    timezone('UTC', cast({{ expr }} as timestamptz))
{%- endmacro %}
{% macro postgres__iso_to_utc(expr) -%}
    (cast({{ expr }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- Spark: the session time zone is UTC (profiles.yml), so an instant's wall-clock time is UTC. -#}
{% macro spark__iso_to_utc(expr) -%}
    cast(cast({{ expr }} as timestamp_ltz) as timestamp_ntz)
{%- endmacro %}

{#- timestamptz column (raw modified_at, loaded_at ...) -> UTC timestamp. -#}
{% macro tz_to_utc(expr) -%}
    {{ return(adapter.dispatch('tz_to_utc', 'salesops')(expr)) }}
{%- endmacro %}
{% macro default__tz_to_utc(expr) -%}
    timezone('UTC', {{ expr }})
{%- endmacro %}
{% macro postgres__tz_to_utc(expr) -%}
    ({{ expr }} at time zone 'UTC')
{%- endmacro %}

{% macro spark__tz_to_utc(expr) -%}
    cast({{ expr }} as timestamp_ntz)
{%- endmacro %}

{#- Epoch milliseconds (number or numeric text) -> UTC timestamp. -#}
{% macro epoch_ms_to_utc(expr) -%}
    {{ return(adapter.dispatch('epoch_ms_to_utc', 'salesops')(expr)) }}
{%- endmacro %}
{% macro default__epoch_ms_to_utc(expr) -%}
    epoch_ms(cast({{ expr }} as bigint))
{%- endmacro %}
{% macro postgres__epoch_ms_to_utc(expr) -%}
    (to_timestamp(cast({{ expr }} as bigint) / 1000.0) at time zone 'UTC')
{%- endmacro %}

{% macro spark__epoch_ms_to_utc(expr) -%}
    cast(timestamp_millis(cast({{ expr }} as bigint)) as timestamp_ntz)
{%- endmacro %}

{#- Epoch milliseconds -> the calendar date in time zone `tz` (Fxiaoke date fields are local
    midnight in Asia/Shanghai: 1585929600000 -> 2020-04-04). -#}
{% macro epoch_ms_to_local_date(expr, tz='Asia/Shanghai') -%}
    {{ return(adapter.dispatch('epoch_ms_to_local_date', 'salesops')(expr, tz)) }}
{%- endmacro %}
{% macro default__epoch_ms_to_local_date(expr, tz) -%}
    cast(timezone('{{ tz }}', to_timestamp(cast({{ expr }} as bigint) / 1000.0)) as date)
{%- endmacro %}
{% macro postgres__epoch_ms_to_local_date(expr, tz) -%}
    cast(to_timestamp(cast({{ expr }} as bigint) / 1000.0) at time zone '{{ tz }}' as date)
{%- endmacro %}

{% macro spark__epoch_ms_to_local_date(expr, tz) -%}
    cast(from_utc_timestamp(cast(timestamp_millis(cast({{ expr }} as bigint)) as timestamp_ntz), '{{ tz }}') as date)
{%- endmacro %}

{#- First day of the month of a date, as DATE on every adapter. -#}
{% macro month_start(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{#- ISO day of the week of a date, 1 = Monday .. 7 = Sunday. -#}
{% macro iso_day_of_week(expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'salesops')(expr)) }}
{%- endmacro %}
{% macro default__iso_day_of_week(expr) -%}
    extract(isodow from {{ expr }})
{%- endmacro %}
{% macro spark__iso_day_of_week(expr) -%}
    extract(dayofweek_iso from {{ expr }})
{%- endmacro %}
