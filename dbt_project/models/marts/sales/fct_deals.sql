{#- One row per live deal of both CRMs. Soft-deleted raw rows (and Fxiaoke records that are
    deleted or invalid) are excluded. Data-quality quirks of the source (a product the CRM could
    not match, open deals without an account, no close date) are kept and flagged, never
    repaired. -#}
with deals as (
    select * from {{ ref('int_deals_unioned') }}
    where not is_deleted
),

zoho_details as (
    select
        deal_id as source_deal_id,
        product_id,
        product_name
    from {{ ref('stg_zoho__deals') }}
),

stages as (
    select * from {{ ref('crm_stage_mapping') }}
)

select
    d.deal_id,
    d.source,
    d.source_deal_id,
    d.deal_name,
    d.rep_id,
    d.account_id,
    d.stage,
    d.stage_category,
    s.stage_order,
    d.probability,
    d.amount,
    d.currency,
    d.rate_to_reporting,
    d.amount_reporting,
    d.reporting_currency,
    d.created_at,
    cast(d.created_at as date) as created_date,
    d.close_date,
    d.modified_at,
    d.stage_category = 'won' as is_won,
    d.stage_category = 'lost' as is_lost,
    d.stage_category = 'open' as is_open,
    case when z.product_id is not null then {{ dbt.concat(["'zoho:'", 'z.product_id']) }} end as product_id,
    z.product_name,
    d.account_id is null as is_missing_account,
    (d.source = 'zoho' and z.product_id is null) as is_missing_product,
    d.amount is null as is_missing_amount,
    cast(case
        when d.stage_category = 'won' and d.close_date is not null and d.created_at is not null
            then {{ dbt.datediff('cast(d.created_at as date)', 'd.close_date', 'day') }}
    end as bigint) as sales_cycle_days
from deals as d
left join zoho_details as z
    on d.source = 'zoho' and z.source_deal_id = d.source_deal_id
left join stages as s
    on s.source = d.source and s.stage = d.stage
