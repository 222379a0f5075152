{#- Continuous median (interpolated, like percentile_cont(0.5)) as a double on every adapter.
    DuckDB's percentile_cont over a DECIMAL returns that DECIMAL, dropping the interpolation's
    extra digit (median of 1.01 and 2.06 = 1.53), while PostgreSQL returns double precision
    (1.535): ordering by a double gives both engines the same value to round. -#}
{% macro median_cont(expr) -%}
    {{ return(adapter.dispatch('median_cont', 'salesops')(expr)) }}
{%- endmacro %}

{#- Spark calls it double, not double precision. -#}
{% macro spark__median_cont(expr) -%}
    percentile_cont(0.5) within group (order by cast({{ expr }} as double))
{%- endmacro %}

{% macro default__median_cont(expr) -%}
    percentile_cont(0.5) within group (order by cast({{ expr }} as double precision))
{%- endmacro %}
