{#-
    Contract data types are written once, as DuckDB spells them (models/marts/**/_*__models.yml).
    PostgreSQL reads every one of them as it is. Spark has no unsized `varchar` (DATATYPE_MISSING_SIZE),
    so its contract check reads `varchar` as `string`, the type Spark gives every text column; and its
    `timestamp` is a local-time-zone instant, so DuckDB's `timestamp` (without time zone: the marts'
    UTC wall-clock times) is Spark's `timestamp_ntz`.
    dbt checks a contract by casting null to each declared type (get_empty_schema_sql); only that
    query is translated here: Spark's parquet tables are created from the model's SELECT, not from the
    declared types.
-#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set spark_types = {'varchar': 'string', 'timestamp': 'timestamp_ntz'} -%}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name].copy() -%}
        {%- set spelled = (column.get('data_type') or '').strip().lower() -%}
        {%- if spelled in spark_types -%}
            {%- do column.update({'data_type': spark_types[spelled]}) -%}
        {%- endif -%}
        {%- do translated.update({name: column}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{% endmacro %}
