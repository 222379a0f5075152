{#- Per period and credit basis: won revenue (booking, fct_deals) or collected revenue
    (collection, int_credit_collections), in the reporting currency, x the split shares, against
    the direct credits (int_credit_lines). Revenue splits total 100 % and their rounded parts are
    made to add up to the sale, so the revenue credits must equal the revenue; overlay credits
    must equal Σ revenue x overlay share (half-up to the cent per credit). `difference` must be 0
    (a data test); flows.commissions.reconcile reports any row that is not. -#}
with deals as (
    select * from {{ ref('fct_deals') }}
    where is_won and close_date is not null and rep_id is not null
),

sales as (
    select
        deal_id,
        source,
        source_deal_id,
        'booking' as credit_basis,
        {{ month_start('close_date') }} as period_month,
        {{ to_money('amount_reporting') }} as sale_amount
    from deals
    union all
    select
        d.deal_id,
        d.source,
        d.source_deal_id,
        'collection' as credit_basis,
        c.period_month,
        c.collected_reporting as sale_amount
    from {{ ref('int_credit_collections') }} as c
    inner join deals as d on d.deal_id = c.deal_id
),

overlays as (
    select
        s.credit_basis,
        s.period_month,
        sum({{ round_money('s.sale_amount * o.split_share') }}) as overlay_amount
    from sales as s
    inner join {{ ref('stg_salesops_config__deal_splits') }} as o
        on
            o.source = s.source
            and o.source_deal_id = s.source_deal_id
            and o.split_type = 'overlay'
    group by s.credit_basis, s.period_month
),

revenue as (
    select
        credit_basis,
        period_month,
        count(*) as sales_count,
        sum(sale_amount) as revenue_amount
    from sales
    group by credit_basis, period_month
),

credited as (
    select
        credit_basis,
        period_month,
        sum(split_share) as split_shares,
        sum(case when split_type = 'revenue' then credit_amount else 0 end) as revenue_credited,
        sum(case when split_type = 'overlay' then credit_amount else 0 end) as overlay_credited,
        sum(credit_amount) as credited_amount
    from {{ ref('int_credit_lines') }}
    where credit_kind = 'direct'
    group by credit_basis, period_month
),

expected as (
    select
        r.credit_basis,
        r.period_month,
        r.sales_count,
        r.revenue_amount,
        coalesce(o.overlay_amount, 0) as overlay_amount
    from revenue as r
    left join overlays as o
        on
            o.credit_basis = r.credit_basis
            and o.period_month = r.period_month
)

select
    {{ dbt.concat(['coalesce(e.credit_basis, c.credit_basis)', "':'",
        dbt.cast('coalesce(e.period_month, c.period_month)', dbt.type_string())]) }} as reconciliation_key,
    coalesce(e.period_month, c.period_month) as period_month,
    coalesce(e.credit_basis, c.credit_basis) as credit_basis,
    coalesce(e.sales_count, 0) as sales_count,
    cast(coalesce(e.revenue_amount, 0) as decimal(18, 2)) as won_amount,
    cast(coalesce(e.overlay_amount, 0) as decimal(18, 2)) as overlay_expected,
    cast(coalesce(e.revenue_amount, 0) + coalesce(e.overlay_amount, 0) as decimal(18, 2)) as expected_amount,
    cast(coalesce(c.split_shares, 0) as decimal(18, 6)) as split_shares,
    cast(coalesce(c.revenue_credited, 0) as decimal(18, 2)) as revenue_credited,
    cast(coalesce(c.overlay_credited, 0) as decimal(18, 2)) as overlay_credited,
    cast(coalesce(c.credited_amount, 0) as decimal(18, 2)) as credited_amount,
    cast(
        coalesce(c.credited_amount, 0) - coalesce(e.revenue_amount, 0) - coalesce(e.overlay_amount, 0)
        as decimal(18, 2)
    ) as difference
from expected as e
full outer join credited as c
    on
        c.credit_basis = e.credit_basis
        and c.period_month = e.period_month
