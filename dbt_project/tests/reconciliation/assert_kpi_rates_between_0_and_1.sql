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
    {%- for table, column, data_type in schema_columns(schema) -%}
        {%- if (column.endswith('_rate') or column == 'rate') and 'exchange' not in column and 'fx' not in column
            and not data_type.startswith(('VARCHAR', 'STRING')) -%}
            {%- do rate_columns.append((table, column)) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}
{%- for table, column in rate_columns %}
{{ 'union all' if not loop.first }}
select '{{ table }}' as table_name, '{{ column }}' as column_name, cast({{ adapter.quote(column) }} as {{ type_double() }}) as value
from {{ adapter.quote(schema) }}.{{ adapter.quote(table) }}
where {{ adapter.quote(column) }} < 0 or {{ adapter.quote(column) }} > 1
{%- else %}
select cast(null as {{ type_varchar() }}) as table_name, cast(null as {{ type_varchar() }}) as column_name, cast(null as {{ type_double() }}) as value
where false
{%- endfor %}
