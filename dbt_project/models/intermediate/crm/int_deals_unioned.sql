{#- Deals of both CRMs conformed: prefixed ids, stage category from the stage mapping seed,
    amount in the reporting currency at the configured rate valid on the credit date (close
    date; creation date while a deal has none). Soft-deleted records are kept and flagged. -#}
with zoho as (
    select
        {{ dbt.concat(["'zoho:'", 'deal_id']) }} as deal_id,
        'zoho' as source,
        deal_id as source_deal_id,
        deal_name,
        {{ dbt.concat(["'zoho:'", 'owner_id']) }} as rep_id,
        case when account_id is not null then {{ dbt.concat(["'zoho:'", 'account_id']) }} end as account_id,
        stage,
        probability,
        amount,
        currency,
        created_at,
        closing_date as close_date,
        modified_at,
        is_deleted,
        deleted_at
    from {{ ref('stg_zoho__deals') }}
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:'", 'opportunity_id']) }} as deal_id,
        'fxiaoke' as source,
        opportunity_id as source_deal_id,
        opportunity_name as deal_name,
        {{ dbt.concat(["'fxiaoke:'", 'owner_id']) }} as rep_id,
        case when account_id is not null then {{ dbt.concat(["'fxiaoke:'", 'account_id']) }} end
            as account_id,
        sales_stage as stage,
        probability,
        amount,
        currency,
        created_at,
        close_date,
        modified_at,
        -- invalid (作废) or deleted in Fxiaoke counts as deleted
        (is_deleted or coalesce(is_deleted_in_crm, false) or coalesce(life_status, 'normal') = 'invalid')
            as is_deleted,
        deleted_at
    from {{ ref('stg_fxiaoke__opportunities') }}
),

unioned as (
    select * from zoho
    union all
    select * from fxiaoke
),

rates as (
    select * from {{ ref('int_exchange_rates_dated') }}
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
    s.stage_category,
    d.probability,
    d.amount,
    d.currency,
    r.rate_to_reporting,
    {{ round_money('d.amount * r.rate_to_reporting') }} as amount_reporting,
    {{ reporting_currency() }} as reporting_currency,
    d.created_at,
    d.close_date,
    d.modified_at,
    d.is_deleted,
    d.deleted_at
from unioned as d
left join stages as s
    on s.source = d.source and s.stage = d.stage
left join rates as r
    on
        r.currency = d.currency
        and r.valid_from <= coalesce(d.close_date, cast(d.created_at as date))
        and (r.valid_to is null or coalesce(d.close_date, cast(d.created_at as date)) < r.valid_to)
