{#- Commission statement per rep x period: the lines of fct_commissions summed by line type.
    total_amount is the sum of the (individually rounded) lines: what payroll pays. -#}
with lines as (
    select * from {{ ref('fct_commissions') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

totals as (
    select
        rep_id,
        period_month,
        currency,
        max(period_status) as period_status,
        max(target_amount) as target_amount,
        sum(case when line_type = 'commission' then commission_amount else 0 end) as commission_amount,
        sum(case when line_type = 'bonus' then commission_amount else 0 end) as bonus_amount,
        sum(case when line_type = 'cap' then commission_amount else 0 end) as cap_amount,
        sum(case when line_type = 'clawback' then commission_amount else 0 end) as clawback_amount,
        sum(case when line_type = 'adjustment' then commission_amount else 0 end) as adjustment_amount,
        sum(case when line_type = 'draw' then commission_amount else 0 end) as draw_amount,
        sum(case when line_type = 'draw_recovery' then commission_amount else 0 end) as draw_recovery_amount,
        sum(commission_amount) as total_amount,
        count(*) as line_count,
        count(distinct deal_id) as deal_count
    from lines
    group by rep_id, period_month, currency
)

select
    {{ dbt.concat(['t.rep_id', "'@'", dbt.cast('t.period_month', api.Column.translate_type('string'))]) }}
        as statement_id,
    t.rep_id,
    r.rep_name,
    r.email,
    t.period_month,
    t.period_status,
    t.currency,
    cast(t.target_amount as decimal(18, 2)) as target_amount,
    cast(t.commission_amount as decimal(18, 2)) as commission_amount,
    cast(t.bonus_amount as decimal(18, 2)) as bonus_amount,
    cast(t.cap_amount as decimal(18, 2)) as cap_amount,
    cast(t.clawback_amount as decimal(18, 2)) as clawback_amount,
    cast(t.adjustment_amount as decimal(18, 2)) as adjustment_amount,
    cast(t.draw_amount as decimal(18, 2)) as draw_amount,
    cast(t.draw_recovery_amount as decimal(18, 2)) as draw_recovery_amount,
    cast(t.total_amount as decimal(18, 2)) as total_amount,
    t.line_count,
    t.deal_count
from totals as t
left join reps as r on r.rep_id = t.rep_id
