{#-
    kpi_measure_columns(measures, given, nullable, null_int_measures): the select list of one
    fact family in int_kpi_rep_period_facts, every measure in the same order so the families can
    be unioned: `given[m]` where the family knows the measure, else null (decimal) for `nullable`
    measures, null (integer) for `null_int_measures` (activities: unknown, not zero), else 0.
-#}
{% macro kpi_measure_columns(measures, given, nullable, null_int_measures) -%}
    {%- for m in measures %}
        {% if m in given -%}
            {{ given[m] }}
        {%- elif m in nullable -%}
            cast(null as decimal(18, 2))
        {%- elif m in null_int_measures -%}
            cast(null as {{ dbt.type_int() }})
        {%- else -%}
            0
        {%- endif %} as {{ m }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
