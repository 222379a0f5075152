{#-
    json_text(column, path): the JSON value at `path` as text (null when absent or JSON null).
    `path` is a list of object keys and array indexes, e.g. ['Owner', 'email'] or ['owner', 0].
      duckdb:   json_extract_string(record, '$."Owner"."email"')
      postgres: record::json #>> '{Owner,email}'
      spark:    get_json_object(record, '$[''Owner''][''email'']')  (record is JSON text there)
-#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text', 'salesops')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    {%- set parts = [] -%}
    {%- for key in path -%}
        {%- if key is number -%}
            {%- do parts.append('[' ~ key ~ ']') -%}
        {%- else -%}
            {%- do parts.append('."' ~ key ~ '"') -%}
        {%- endif -%}
    {%- endfor -%}
    json_extract_string({{ column }}, '${{ parts | join("") }}')
{%- endmacro %}

{% macro postgres__json_text(column, path) -%}
    {%- set parts = [] -%}
    {%- for key in path -%}
        {%- do parts.append(key | string) -%}
    {%- endfor -%}
    ({{ column }}::json #>> '{ {{- parts | join(",") -}} }')
{%- endmacro %}

{% macro spark__json_text(column, path) -%}
    {%- set parts = [] -%}
    {%- for key in path -%}
        {%- if key is number -%}
            {%- do parts.append('[' ~ key ~ ']') -%}
        {%- else -%}
            {%- do parts.append("[''" ~ key ~ "'']") -%}
        {%- endif -%}
    {%- endfor -%}
    get_json_object({{ column }}, '${{ parts | join("") }}')
{%- endmacro %}

{#- SQL type of the raw `record` column, for empty stand-ins of missing raw tables. -#}
{% macro type_json() -%}
    {{ return(adapter.dispatch('type_json', 'salesops')()) }}
{%- endmacro %}
{% macro default__type_json() -%}json{%- endmacro %}
{% macro postgres__type_json() -%}jsonb{%- endmacro %}
{% macro spark__type_json() -%}string{%- endmacro %}
