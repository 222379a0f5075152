{#-
    raw_source(source_name, table_name): the raw landing table, or an empty stand-in with the
    same columns when the table does not exist yet (a CRM that is disabled or never ingested),
    so `dbt build` still works on a warehouse holding only one CRM. On PostgreSQL, which needs an
    alias on a subquery in FROM, the stand-in is aliased as the table: write
    `from {{ raw_source(...) }}` without an alias of your own, and name it by the table.
-#}
{% macro raw_source(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ raw_stand_in() }}{{ subquery_alias(table_name) }}
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
            cast(null as {{ type_timestamptz() }}) as modified_at,
            cast(null as boolean) as is_deleted,
            cast(null as {{ type_timestamptz() }}) as deleted_at,
            cast(null as {{ dbt.type_string() }}) as record_hash,
            cast(null as {{ dbt.type_string() }}) as run_id,
            cast(null as {{ type_timestamptz() }}) as loaded_at
        where 1 = 0)
{%- endmacro %}

{#- SQL type of an instant (the raw tables' timestamp with time zone): TIMESTAMP_LTZ on Spark. -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'salesops')()) }}
{%- endmacro %}
{% macro default__type_timestamptz() -%}timestamptz{%- endmacro %}
{% macro spark__type_timestamptz() -%}timestamp_ltz{%- endmacro %}

{#- ` as <name>` after a subquery in FROM where the adapter requires one (PostgreSQL < 16); nothing
    elsewhere, so DuckDB SQL that aliases the result itself keeps working there. -#}
{% macro subquery_alias(name) -%}
    {{ return(adapter.dispatch('subquery_alias', 'salesops')(name)) }}
{%- endmacro %}
{% macro default__subquery_alias(name) -%}{%- endmacro %}
{% macro postgres__subquery_alias(name) %} as {{ name }}{% endmacro %}

{#- The landing columns every staging model carries over from its raw table (flows/warehouse.py):
    soft-delete flag and time, load time (UTC, no zone) and the run that landed the row. -#}
{% macro landing_metadata() -%}
        is_deleted,
        {{ tz_to_utc('deleted_at') }} as deleted_at,
        {{ tz_to_utc('loaded_at') }} as loaded_at,
        run_id
{%- endmacro %}

{#- The unbounded text type of a cast: varchar (DuckDB, PostgreSQL), string on Spark, where
    varchar needs a length. -#}
{% macro type_varchar() -%}
    {{ return(adapter.dispatch('type_varchar', 'salesops')()) }}
{%- endmacro %}
{% macro default__type_varchar() -%}varchar{%- endmacro %}
{% macro spark__type_varchar() -%}string{%- endmacro %}

{#- A double-precision float: `double precision` on DuckDB (its DOUBLE) and PostgreSQL, `double` on Spark. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'salesops')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro spark__type_double() -%}double{%- endmacro %}
