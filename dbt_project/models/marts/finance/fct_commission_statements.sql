{#- Commission statement per rep x period: the lines of fct_commissions summed by line type.
    total_amount is the sum of the (individually rounded) lines: what payroll pays. Balances
    after the period (running sums over the rep's periods): deficit_balance (negative months
    carried forward, flows/commissions/balances.py), pending_balance (instalments earned but
    not yet paid, flows/commissions/payouts.py), both from the balance change their lines carry
    in base_amount, and draw_balance (recoverable draw: top-ups minus recoveries). -#}
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
        sum(case when component_type = 'deficit' then commission_amount else 0 end) as deficit_amount,
        sum(
            case when line_type in ('deferral', 'release') then commission_amount else 0 end
        ) as deferred_amount,
        sum(case when component_type = 'deficit' then base_amount else 0 end) as deficit_change,
        sum(case when component_type = 'recoverable_draw' then commission_amount else 0 end) as draw_change,
        sum(
            case when line_type in ('deferral', 'release', 'pending_cancel') then base_amount else 0 end
        ) as pending_change,
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
    cast(t.deficit_amount as decimal(18, 2)) as deficit_amount,
    cast(t.deferred_amount as decimal(18, 2)) as deferred_amount,
    cast(t.total_amount as decimal(18, 2)) as total_amount,
    t.line_count,
    t.deal_count,
    cast(sum(t.deficit_change) over (
        partition by t.rep_id, t.currency order by t.period_month rows unbounded preceding
    ) as decimal(18, 2)) as deficit_balance,
    cast(sum(t.pending_change) over (
        partition by t.rep_id, t.currency order by t.period_month rows unbounded preceding
    ) as decimal(18, 2)) as pending_balance,
    cast(sum(t.draw_change) over (
        partition by t.rep_id, t.currency order by t.period_month rows unbounded preceding
    ) as decimal(18, 2)) as draw_balance
from totals as t
left join reps as r on r.rep_id = t.rep_id
