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

{#- The value of `expr` on the row with the smallest / largest `order_by` of the group, NULL
    included (a row whose value is NULL gives NULL, as the row_number() = 1 it replaces did):
    one aggregate instead of a window's sort. `order_by` must not tie within a group. -#}
{% macro first_by(expr, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'salesops')(expr, order_by)) }}
{%- endmacro %}
{% macro default__first_by(expr, order_by) -%}
    arg_min_null({{ expr }}, {{ order_by }})
{%- endmacro %}
{% macro postgres__first_by(expr, order_by) -%}
    (array_agg({{ expr }} order by {{ order_by }}))[1]
{%- endmacro %}
{% macro spark__first_by(expr, order_by) -%}
    min_by({{ expr }}, {{ order_by }})
{%- endmacro %}

{% macro last_by(expr, order_by) -%}
    {{ return(adapter.dispatch('last_by', 'salesops')(expr, order_by)) }}
{%- endmacro %}
{% macro default__last_by(expr, order_by) -%}
    arg_max_null({{ expr }}, {{ order_by }})
{%- endmacro %}
{% macro postgres__last_by(expr, order_by) -%}
    (array_agg({{ expr }} order by {{ order_by }} desc))[1]
{%- endmacro %}
{% macro spark__last_by(expr, order_by) -%}
    max_by({{ expr }}, {{ order_by }})
{%- endmacro %}
