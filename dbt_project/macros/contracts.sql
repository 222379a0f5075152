{#-
    Contract data types are written once, as DuckDB spells them (models/marts/**/_*__models.yml).
    PostgreSQL reads every one of them as it is; Spark has no unsized `varchar` (DATATYPE_MISSING_SIZE),
    so its contract check reads `varchar` as `string`, the type Spark gives every text column.
    dbt checks a contract by casting null to each declared type (get_empty_schema_sql); only that
    query is translated here: Spark's parquet tables are created from the model's SELECT, not from the
    declared types.
-#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set translated = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name].copy() -%}
        {%- if (column.get('data_type') or '').strip().lower() == 'varchar' -%}
            {%- do column.update({'data_type': 'string'}) -%}
        {%- endif -%}
        {%- do translated.update({name: column}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(translated)) }}
{% endmacro %}
