{#- Schemas are exactly the custom schema names (staging, intermediate, marts) on every target,
    not dbt's default `<target schema>_<custom>`; models without one go to the target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
