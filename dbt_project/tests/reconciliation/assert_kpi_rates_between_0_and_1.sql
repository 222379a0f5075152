{{ config(
    severity='warn',
    store_failures=true,
    meta={
        'gate_severity': 'critical',
        'gate_suite': 'marts_reconciliation',
        'column': 'kpi_rates_out_of_bounds',
        'description': 'every KPI rate column of the marts is between 0 and 1',
    },
) }}
{#- Every KPI rate column of every mart (a numeric column named rate or *_rate, not an exchange
    rate) is between 0 and 1; the columns are found at run time in the marts schema, so a new
    mart's rates are covered without touching this test. Returns the offending values.
    The refs only order the test after the marts that have rate columns today. -#}
-- depends_on: {{ ref('fct_commissions') }}
-- depends_on: {{ ref('fct_funnel') }}
-- depends_on: {{ ref('fct_net_revenue_retention') }}
-- depends_on: {{ ref('fct_rep_scorecard') }}
-- depends_on: {{ ref('fct_sales_scorecard') }}
{%- set schema = ref('fct_rep_scorecard').schema -%}
{%- set rate_columns = [] -%}
{%- if execute -%}
    {%- set found = run_query(
        "select table_name, column_name from information_schema.columns "
        ~ "where table_schema = '" ~ schema ~ "' "
        ~ "and (column_name like '%\\_rate' escape '\\' or column_name = 'rate') "
        ~ "and column_name not like '%exchange%' and column_name not like '%fx%' "
        ~ "and data_type not in ('VARCHAR') order by table_name, column_name"
    ) -%}
    {%- for row in found.rows -%}
        {%- do rate_columns.append((row[0], row[1])) -%}
    {%- endfor -%}
{%- endif %}
{%- for table, column in rate_columns %}
{{ 'union all' if not loop.first }}
select '{{ table }}' as table_name, '{{ column }}' as column_name, cast("{{ column }}" as double) as value
from "{{ schema }}"."{{ table }}"
where "{{ column }}" < 0 or "{{ column }}" > 1
{%- else %}
select cast(null as {{ type_varchar() }}) as table_name, cast(null as {{ type_varchar() }}) as column_name, cast(null as double) as value
where false
{%- endfor %}
