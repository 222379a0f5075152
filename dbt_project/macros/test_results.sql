{#-
    record_test_results(results): the on-run-end hook that keeps every data test's latest outcome in
    ops.dbt_test_results (one row per test: status, failing rows, severity, meta, the model and
    column it tests, and the store_failures table when it has one). The data-quality gate
    (flows/quality/dbt_tests.py) reads it and reports each test as a check of the suite of its
    model, so ops.validation_results, the Data Docs and the alert show dbt's checks next to GX's
    (docs/quality.md). A dbt invocation that selects a subset keeps the other tests' last outcome.
    DuckDB only: the gate reads the DuckDB warehouse.
-#}
{% macro record_test_results(results) -%}
    {%- if execute and target.type == 'duckdb' -%}
        {%- set rows = [] -%}
        {%- for r in results if r.node.resource_type == 'test' -%}
            {%- set node = r.node -%}
            {%- set kind = node.test_metadata.name if node.test_metadata else none -%}
            {%- do rows.append('(' ~ [
                _test_results_literal(node.unique_id),
                _test_results_literal(kind or node.name),
                _test_results_literal(node.attached_node),
                _test_results_literal(node.column_name),
                _test_results_literal(node.config.severity | lower),
                _test_results_literal(r.status),
                (r.failures if r.failures is not none else 'null'),
                _test_results_literal(r.message),
                _test_results_literal(tojson(node.config.meta or {})),
                _test_results_literal(node.description),
                _test_results_literal(tojson(node.test_metadata.kwargs) if node.test_metadata else none),
                _test_results_literal(node.relation_name),
                _test_results_literal(invocation_id),
            ] | join(', ') ~ ', now())') -%}
        {%- endfor -%}
        {%- if rows -%}
            {%- call statement('record_test_results') -%}
                create schema if not exists ops;
                create table if not exists ops.dbt_test_results (
                    unique_id varchar not null,
                    test_name varchar not null,
                    attached_node varchar,
                    column_name varchar,
                    severity varchar,
                    status varchar not null,
                    failures bigint,
                    message varchar,
                    meta json,
                    description varchar,
                    kwargs json,
                    relation_name varchar,
                    invocation_id varchar,
                    recorded_at timestamptz not null
                );
                create temp table _salesops_test_results as
                select * from ops.dbt_test_results where false;
                insert into _salesops_test_results values
                    {{ rows | join(',\n                    ') }};
                delete from ops.dbt_test_results
                where unique_id in (select unique_id from _salesops_test_results);
                insert into ops.dbt_test_results select * from _salesops_test_results;
                drop table _salesops_test_results;
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro _test_results_literal(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ (value | string) | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}
