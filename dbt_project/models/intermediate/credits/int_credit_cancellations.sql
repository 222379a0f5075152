{#- Won deals whose sales orders (both CRMs) are all cancelled: the commission engine claws back
    what their credits were paid, in the period of the cancellation. reversed_on = the UTC date
    of the last order's cancellation (its modification time when the CRM keeps no cancel time).
    A deal without sales orders, or with at least one live order, stands. A deal with an order the
    data-quality gate holds back (ops.quarantine) is not clawed back while it is held: the held
    order may be the live one, so the decision waits for the corrected record. -#}
with orders as (
    select
        'zoho' as source,
        deal_id as source_deal_id,
        is_cancelled,
        coalesce(cancelled_at, modified_at) as cancelled_at
    from {{ ref('stg_zoho__sales_orders') }}
    where not is_deleted
    union all
    select
        'fxiaoke' as source,
        deal_id as source_deal_id,
        is_cancelled,
        coalesce(cancelled_at, modified_at) as cancelled_at
    from {{ ref('stg_fxiaoke__sales_orders') }}
    where not is_deleted
),

held_orders as (
    select
        'zoho' as source,
        {{ json_text('record', ['Deal_Name', 'id']) }} as source_deal_id
    from {{ quarantined_rows('zoho', 'zoho_sales_orders') }}
    union all
    select
        'fxiaoke' as source,
        {{ json_text('record', ['opportunity_id']) }} as source_deal_id
    from {{ quarantined_rows('fxiaoke', 'fxiaoke_sales_orders') }}
),

per_deal as (
    select
        source,
        source_deal_id,
        count(*) as order_count,
        sum(case when is_cancelled then 1 else 0 end) as cancelled_count,
        max(case when is_cancelled then cancelled_at end) as last_cancelled_at
    from orders
    where source_deal_id is not null
    group by source, source_deal_id
)

select
    d.deal_id,
    p.order_count,
    p.cancelled_count,
    cast(p.last_cancelled_at as date) as reversed_on
from per_deal as p
inner join {{ ref('fct_deals') }} as d
    on
        d.source = p.source
        and d.source_deal_id = p.source_deal_id
where
    p.cancelled_count = p.order_count
    and d.is_won
    and not exists (
        select 1
        from held_orders as h
        where
            h.source = p.source
            and h.source_deal_id = p.source_deal_id
    )
