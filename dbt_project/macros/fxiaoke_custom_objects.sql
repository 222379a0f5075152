{#-
    fxiaoke_custom_object_tables(): the landed Fxiaoke custom objects, one raw table each
    (raw.fxiaoke_custom_<api name>, for every API name in SALESOPS_FXIAOKE_CUSTOM_OBJECTS that
    has been ingested), as a list of {'api_name': 'object_visit__c', 'relation': <relation>}
    sorted by table name. Read from information_schema (portable), so a newly configured custom
    object is staged by the next build without any dbt change. Empty while parsing.
-#}
{% macro fxiaoke_custom_object_tables(schema='raw', prefix='fxiaoke_custom_') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set sql -%}
        select table_name
        from information_schema.tables
        where table_schema = '{{ schema }}'
          and lower(table_catalog) = lower('{{ target.database }}')
        order by table_name
    {%- endset -%}
    {%- set found = [] -%}
    {%- for name in run_query(sql).columns[0].values() if name.startswith(prefix) -%}
        {%- do found.append({
            'api_name': name[prefix | length:],
            'relation': api.Relation.create(database=target.database, schema=schema, identifier=name),
        }) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}
