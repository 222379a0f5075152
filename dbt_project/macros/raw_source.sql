{#-
    raw_source(source_name, table_name): the raw landing table, or an empty stand-in with the
    same columns when the table does not exist yet (a CRM that is disabled or never ingested),
    so `dbt build` still works on a warehouse holding only one CRM. The stand-in is a subquery
    aliased as the table (PostgreSQL needs an alias on a subquery in FROM), so use it as
    `from {{ raw_source(...) }}` without an alias of your own, and name it by the table.
-#}
{% macro raw_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ raw_stand_in() }} as {{ table_name }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- raw_source() without the alias: the relation, or the empty stand-in subquery. -#}
{% macro raw_source_unaliased(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ raw_stand_in() }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- An empty raw landing table: the columns of flows/warehouse.py's raw tables, no rows. -#}
{% macro raw_stand_in() -%}
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
