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
    {%- set quarantine = none -%}
    {%- if execute -%}
        {%- set quarantine = adapter.get_relation(database=target.database, schema='ops', identifier='quarantine') -%}
    {%- endif -%}
    {%- if quarantine is none -%}
        {{ raw_source(source_name, table_name) }}
    {%- else -%}
        (select landed.*
        from {{ raw_source_unaliased(source_name, table_name) }} as landed
        where not exists (
            select 1
            from {{ quarantine }} as quarantined
            where quarantined.raw_table = '{{ quarantined_table or table_name }}'
              and quarantined.released_at is null
              and quarantined.id = {{ id_column if 'landed.' in id_column else 'landed.' ~ id_column }}
        )){{ subquery_alias(table_name) }}
    {%- endif -%}
{%- endmacro %}
