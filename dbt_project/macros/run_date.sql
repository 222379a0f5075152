{#-
    The business date of the run (YYYY-MM-DD): var('run_date') when given (by hand, or a unit test's
    overrides), else the environment's SALESOPS_RUN_DATE (what the pipeline sets:
    flows/warehouse/dbt_runner.py), else today. The pipeline does not pass it in --vars because dbt
    re-parses the whole project whenever --vars differ from the last parse, i.e. every night; the
    environment is read only while executing, so the parse does not record it either (docs/dbt.md,
    "What dbt spends besides the SQL").
-#}
{% macro run_date_literal() -%}
    {%- set value = var('run_date', '') -%}
    {%- if not value and execute -%}
        {%- set value = env_var('SALESOPS_RUN_DATE', '') -%}
    {%- endif -%}
    {%- if not value -%}
        {%- set value = modules.datetime.date.today().isoformat() -%}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro reporting_currency() -%}
    '{{ var("reporting_currency", "USD") }}'
{%- endmacro %}
