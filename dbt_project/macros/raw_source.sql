{#-
    raw_source(source_name, table_name): the raw landing table, or an empty stand-in with the
    same columns when the table does not exist yet (a CRM that is disabled or never ingested),
    so `dbt build` still works on a warehouse holding only one CRM.
-#}
{% macro raw_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ empty_raw_landing() }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- empty_raw_landing(): a parenthesised select with the columns of a raw landing table and no rows. -#}
{% macro empty_raw_landing() -%}
        (select
            cast(null as {{ dbt.type_string() }}) as source,
            cast(null as {{ dbt.type_string() }}) as object,
            cast(null as {{ dbt.type_string() }}) as id,
            cast(null as {{ type_json() }}) as record,
            cast(null as timestamptz) as modified_at,
            cast(null as boolean) as is_deleted,
            cast(null as timestamptz) as deleted_at,
            cast(null as {{ dbt.type_string() }}) as record_hash,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as timestamptz) as loaded_at
        where 1 = 0)
{%- endmacro %}
