{#- Credited amounts: who gets credit for which sale, when, and how much in the plan currency.
    One row per credit. Set-based crediting; the commission engine (flows/commissions) turns
    these into statement lines. Rules: docs/commission_plans.md, "Crediting".
    - Sales to credit (one per deal and basis), in the reporting currency:
      booking: every won deal of a known owner, on its close date, at the deal amount converted
      with the rate valid on that date (fct_deals.amount_reporting);
      collection: every collection of such a deal (int_credit_collections), on the payment date,
      at the collected amount converted with the rate valid on the payment date.
    - Splits (stg_salesops_config__deal_splits): a deal with revenue split rows credits those
      reps instead of its owner (shares total exactly 1); a deal without credits its owner 100 %.
      Overlay rows credit their reps on top. Each rep gets amount x share, half-up to the cent;
      the revenue residual (sale - sum of the rounded parts, a few cents) goes to the rep with the
      largest share (ties: the smallest rep_id), so the revenue credits of a sale add up to it
      exactly. Overlay parts are only rounded.
    - Ids: the owner's revenue credit keeps the sale's id (deal_id for bookings, the
      collection_id for collections) so adding a split keeps the owner's credit history; other
      reps get <sale id>@<rep_id>, overlay credits <sale id>@<rep_id>#overlay.
    - rollup: every level above each direct credit's rep as of the credit date (effective-dated
      hierarchy, dim_sales_rep_history, half-open [valid_from, valid_to)) receives the same amount
      as roll-up credit: level 1 the rep's manager on that date, level 2 that manager's manager on
      the same date, and so on, as the engine does (flows/commissions/hierarchy.py). The id is the
      path <credit_id>><level 1 manager>><level 2 manager>... A manager already on the path (a
      cycle) stops the walk. Bounded self-joins (macro rollup_credit_levels; Spark has no
      recursive CTE), up to var('rollup_max_levels', 10) levels;
      tests/credits/assert_rollup_chains_within_max_levels fails when a chain goes deeper.
    - reversed_on: the deal's sales orders were all cancelled (int_credit_cancellations); the
      engine claws the credit's paid lines back in that date's period.
    Plans pay in the reporting currency (config/README.md), so credit_amount is in it. -#}
{#- A table on every engine, not DuckDB's view: the commission engine, int_credit_reconciliation
    and a dozen data tests read it, and a view computed the credits again for each (the tests alone
    took ~40 s of an incremental nightly's dbt build at 1M bench deals; docs/dbt.md). -#}
{{ config(materialized='table') }}
with deals as (
    select * from {{ ref('fct_deals') }}
    where is_won and close_date is not null and rep_id is not null
),

history as (
    select * from {{ ref('dim_sales_rep_history') }}
),

cancellations as (
    select * from {{ ref('int_credit_cancellations') }}
),

sales as (
    select
        deal_id as sale_id,
        deal_id,
        source,
        source_deal_id,
        rep_id as owner_id,
        'booking' as credit_basis,
        close_date as credit_date,
        amount as original_amount,
        currency as original_currency,
        rate_to_reporting as fx_rate,
        {{ to_money('amount_reporting') }} as sale_amount
    from deals
    union all
    select
        c.collection_id as sale_id,
        c.deal_id,
        d.source,
        d.source_deal_id,
        d.rep_id as owner_id,
        'collection' as credit_basis,
        c.payment_date as credit_date,
        c.collected_amount as original_amount,
        c.currency as original_currency,
        c.rate_to_reporting as fx_rate,
        c.collected_reporting as sale_amount
    from {{ ref('int_credit_collections') }} as c
    inner join deals as d on d.deal_id = c.deal_id
),

splits as (
    select
        s.source,
        s.source_deal_id,
        r.rep_id,
        s.split_share,
        s.split_type
    from {{ ref('stg_salesops_config__deal_splits') }} as s
    left join {{ ref('dim_sales_reps') }} as r
        on
            r.source = s.source
            and lower(r.email) = s.rep_email
),

revenue_split_deals as (
    select distinct
        source,
        source_deal_id
    from splits
    where split_type = 'revenue'
),

shares as (
    -- the owner, 100 %, of a sale without revenue split rows
    select
        s.sale_id,
        s.owner_id as rep_id,
        cast(1 as decimal(9, 6)) as split_share,
        'revenue' as split_type
    from sales as s
    left join revenue_split_deals as x
        on
            x.source = s.source
            and x.source_deal_id = s.source_deal_id
    where x.source_deal_id is null
    union all
    -- the split rows of the sale's deal (revenue and overlay)
    select
        s.sale_id,
        p.rep_id,
        p.split_share,
        p.split_type
    from sales as s
    inner join splits as p
        on
            p.source = s.source
            and p.source_deal_id = s.source_deal_id
),

parts as (
    select
        s.*,
        h.rep_id,
        h.split_share,
        h.split_type,
        {{ round_money('s.sale_amount * h.split_share') }} as rounded_amount,
        row_number() over (
            partition by s.sale_id, h.split_type
            order by h.split_share desc, h.rep_id asc
        ) as share_rank
    from sales as s
    inner join shares as h on h.sale_id = s.sale_id
),

residuals as (
    select
        sale_id,
        max(sale_amount) - sum(rounded_amount) as residual
    from parts
    where split_type = 'revenue'
    group by sale_id
),

direct_credits as (
    select
        case
            when p.split_type = 'revenue' and p.rep_id = p.owner_id then p.sale_id
            when p.split_type = 'revenue' then {{ dbt.concat(['p.sale_id', "'@'", 'p.rep_id']) }}
            else {{ dbt.concat(['p.sale_id', "'@'", 'p.rep_id', "'#overlay'"]) }}
        end as credit_id,
        p.deal_id,
        p.rep_id,
        'direct' as credit_kind,
        p.credit_basis,
        p.split_type,
        p.credit_date,
        p.split_share,
        p.original_amount,
        p.original_currency,
        p.fx_rate,
        cast(
            p.rounded_amount
            + case when p.split_type = 'revenue' and p.share_rank = 1 then r.residual else 0 end
            as decimal(18, 2)
        ) as credit_amount
    from parts as p
    left join residuals as r on r.sale_id = p.sale_id
    where p.rep_id is not null
),

{{ rollup_credit_levels('direct_credits', 'history') }},

credits as (
    select * from direct_credits
    union all
    select * from rollup_credits
)

select
    c.credit_id,
    c.deal_id,
    c.rep_id,
    c.credit_kind,
    c.credit_basis,
    c.split_type,
    c.credit_date,
    {{ month_start('c.credit_date') }} as period_month,
    c.split_share,
    c.original_amount,
    c.original_currency,
    c.fx_rate,
    c.credit_amount,
    x.reversed_on
from credits as c
left join cancellations as x on x.deal_id = c.deal_id
