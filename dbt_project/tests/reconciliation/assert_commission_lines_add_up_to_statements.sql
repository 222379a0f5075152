{{ config(
    severity='warn',
    store_failures=true,
    meta={
        'gate_severity': 'critical',
        'gate_suite': 'marts_reconciliation',
        'column': 'commission_statement_max_diff',
        'observed': 'diff',
        'description': 'commission lines reconcile: sum of lines = statement totals per rep and month (where statements exist)',
    },
) }}
{#- Σ fct_commissions.commission_amount = Σ fct_commission_statements.total_amount per rep and
    month, to the cent; returns every rep-month that differs by more than 0.01. -#}
with lines as (
    select rep_id, period_month, sum(commission_amount) as amount
    from {{ ref('fct_commissions') }}
    group by rep_id, period_month
),

statements as (
    select rep_id, period_month, sum(total_amount) as amount
    from {{ ref('fct_commission_statements') }}
    group by rep_id, period_month
),

compared as (
    select
        coalesce(l.rep_id, s.rep_id) as rep_id,
        coalesce(l.period_month, s.period_month) as period_month,
        l.amount as lines_amount,
        s.amount as statement_amount,
        abs(coalesce(l.amount, 0) - coalesce(s.amount, 0)) as diff
    from lines as l
    full outer join statements as s
        -- both sides are group-by keys of not-null columns: a plain equi-join (PostgreSQL can
        -- only hash or merge a full join on equality)
        on l.rep_id = s.rep_id
        and l.period_month = s.period_month
)

select * from compared
where diff > 0.01
