{#- The business date of the run: var('run_date') (YYYY-MM-DD) or today when empty. -#}
{% macro run_date_literal() -%}
    {%- set value = var('run_date', '') -%}
    {%- if not value -%}
        {%- set value = modules.datetime.date.today().isoformat() -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro reporting_currency() -%}
    '{{ var("reporting_currency", "USD") }}'
{%- endmacro %}
