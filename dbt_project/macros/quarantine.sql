{#-
    exclude_quarantined(source_name, table_name, id_column='id'): the raw landing table like
    raw_source(), minus the rows the data-quality gate has quarantined (ops.quarantine, written by
    flows/quarantine.py: one row per raw row and failed check; released_at is set when a later gate
    run finds the row fixed). A drop-in replacement for raw_source() in staging models of objects
    whose rows may be quarantined:

        select * from {{ exclude_quarantined('zoho', 'zoho_deals') }}

    Child objects of a quarantined record (a deal's stage history) drop with it: give the parent id
    as a column or an expression of the landed row (alias `landed`; a bare column or path is
    prefixed with `landed.`), and the parent's raw table:

        select * from {{ exclude_quarantined('zoho', 'zoho_deal_stage_history',
                                             id_column="split_part(landed.id, ':', 1)",
                                             quarantined_table='zoho_deals') }}
        select * from {{ exclude_quarantined('fxiaoke', 'fxiaoke_opportunity_stage_changes',
                                             id_column="record->>'objectId'",
                                             quarantined_table='fxiaoke_opportunities') }}

    When ops.quarantine does not exist yet (no gate has run on this warehouse) it is raw_source().
    Like raw_source(), on PostgreSQL the result is aliased as the table: give it no alias of your own.
    Quarantined rows are never dropped: they stay in raw.* and ops.quarantine with the reason.
-#}
{% macro exclude_quarantined(source_name, table_name, id_column='id', quarantined_table=none) -%}
    {{ _quarantine_filter(source_name, table_name, id_column, quarantined_table, held=false) }}
{%- endmacro %}

{#-
    quarantined_rows(source_name, table_name): the complement of exclude_quarantined(): the raw
    landed rows of the table that are quarantined right now (none when no gate has run). For
    models that must not decide on incomplete data, e.g. a clawback that waits while one of the
    deal's sales orders is held back. Aliased like raw_source(): add no alias of your own.
-#}
{% macro quarantined_rows(source_name, table_name) -%}
    {{ _quarantine_filter(source_name, table_name, 'id', none, held=true) }}
{%- endmacro %}

{#- The landed rows with (held=true) or without (held=false) an open quarantine entry. -#}
{% macro _quarantine_filter(source_name, table_name, id_column, quarantined_table, held) -%}
    {%- set quarantine = none -%}
    {%- if execute -%}
        {%- set quarantine = adapter.get_relation(database=target.database, schema='ops', identifier='quarantine') -%}
    {%- endif -%}
    {%- if quarantine is none and not held -%}
        {{ raw_source(source_name, table_name) }}
    {%- else -%}
        (select landed.*
        from {{ raw_source_unaliased(source_name, table_name) }} as landed
        where
        {%- if quarantine is none %} 1 = 0
        {%- else %} {{ 'exists' if held else 'not exists' }} (
            select 1
            from {{ quarantine }} as quarantined
            where quarantined.raw_table = '{{ quarantined_table or table_name }}'
              and quarantined.released_at is null
              and quarantined.id = {{ id_column if 'landed.' in id_column else 'landed.' ~ id_column }}
        )
        {%- endif %}){{ subquery_alias(table_name) }}
    {%- endif -%}
{%- endmacro %}
