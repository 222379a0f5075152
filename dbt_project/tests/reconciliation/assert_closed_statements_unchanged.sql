{{ config(
    severity='warn',
    store_failures=true,
    meta={
        'gate_severity': 'critical',
        'gate_suite': 'marts_reconciliation',
        'column': 'closed_statements_changed',
        'description': 'no commission statement of a closed period changed since it was first seen closed',
    },
) }}
{#- A closed period's statements never change: the total of each statement the gate first saw
    closed is kept in ops.closed_statement_snapshots (written by flows/quality/dbt_tests.py after
    the gate reads this test; never overwritten, so finance reopens a period by deleting its rows).
    Returns the snapshots whose statement is no longer closed or whose total differs. Passes
    while there are no snapshots yet. -#}
-- depends_on: {{ ref('fct_commission_statements') }}
{%- set snapshots = adapter.get_relation(database=target.database, schema='ops', identifier='closed_statement_snapshots') if execute else none %}
{%- if snapshots %}
select s.statement_key, s.total_amount as snapshot_total, c.total_amount as current_total
from {{ snapshots }} as s
left join (
    select cast(statement_id as {{ type_varchar() }}) as statement_key, total_amount
    from {{ ref('fct_commission_statements') }}
    where period_status = 'closed'
) as c on c.statement_key = s.statement_key
where s.statement_table = 'fct_commission_statements'
    and (c.statement_key is null or c.total_amount is distinct from s.total_amount)
{%- else %}
select cast(null as {{ type_varchar() }}) as statement_key, cast(null as decimal(38, 6)) as snapshot_total,
    cast(null as decimal(38, 6)) as current_total
where false
{%- endif %}
