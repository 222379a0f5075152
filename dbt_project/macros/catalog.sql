{#- What the catalog holds, on every adapter: information_schema where there is one, SHOW
    TABLES and DESCRIBE on Spark. -#}
{#- The names of the tables of a schema, sorted. -#}
{% macro table_names_in_schema(schema) -%}
    {{ return(adapter.dispatch('table_names_in_schema', 'salesops')(schema)) }}
{%- endmacro %}

{% macro default__table_names_in_schema(schema) -%}
    {%- set sql -%}
        select table_name
        from information_schema.tables
        where table_schema = '{{ schema }}'
          and lower(table_catalog) = lower('{{ target.database }}')
        order by table_name
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{#- Spark has no information_schema; SHOW TABLES fails when the database does not exist yet. -#}
{% macro spark__table_names_in_schema(schema) -%}
    {%- if schema not in (run_query('show databases').columns[0].values() | list) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for row in run_query('show tables in ' ~ schema) if not row['isTemporary'] -%}
        {%- do names.append(row['tableName']) -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}

{#- (table, column, data type) of every column of the tables of a schema, ordered by table and
    column position; data types as the adapter names them (upper-case on DuckDB). -#}
{% macro schema_columns(schema) -%}
    {{ return(adapter.dispatch('schema_columns', 'salesops')(schema)) }}
{%- endmacro %}

{% macro default__schema_columns(schema) -%}
    {%- set sql -%}
        select table_name, column_name, data_type
        from information_schema.columns
        where table_schema = '{{ schema }}'
          and lower(table_catalog) = lower('{{ target.database }}')
        order by table_name, ordinal_position
    {%- endset -%}
    {{ return(run_query(sql).rows | map('list') | list) }}
{%- endmacro %}

{% macro spark__schema_columns(schema) -%}
    {%- set found = [] -%}
    {%- for name in table_names_in_schema(schema) -%}
        {%- set relation = api.Relation.create(schema=schema, identifier=name) -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do found.append([name, column.name, column.data_type | upper]) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
