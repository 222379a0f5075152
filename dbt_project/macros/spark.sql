{#-
    spark_register_landing(location, tables, landing): `salesops warehouse spark` runs it (dbt
    run-operation, target spark) after writing the landing layer as Parquet
    (flows/warehouse/spark.py): every `schema.table` of `tables` becomes an external Parquet table
    on `<location>/<schema>/<table>`; a table of a landing schema that is not in `tables` is
    dropped when `landing[schema]` (null = every table of the schema, else a list) covers it.
    Dropping an external table leaves its files alone; the dbt views on it are re-resolved at
    query time, so they survive the swap.
-#}
{% macro spark_register_landing(location, tables, landing) -%}
    {%- for schema, listed in landing.items() -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- for name in table_names_in_schema(schema) -%}
            {%- if (schema ~ '.' ~ name) not in tables and (listed is none or name in listed) -%}
                {%- do run_query('drop table if exists ' ~ schema ~ '.' ~ name) -%}
                {%- do log('dropped ' ~ schema ~ '.' ~ name ~ ' (no longer landed)', info=true) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for qualified in tables -%}
        {%- set schema, name = qualified.split('.') -%}
        {%- do run_query('drop table if exists ' ~ qualified) -%}
        {%- do run_query('create table ' ~ qualified ~ " using parquet location '"
            ~ location ~ '/' ~ schema ~ '/' ~ name ~ "'") -%}
    {%- endfor -%}
    {%- do log('registered ' ~ (tables | length) ~ ' landing tables on ' ~ location, info=true) -%}
{%- endmacro %}
