{#- One row per live deal of both CRMs. Soft-deleted raw rows (and Fxiaoke records that are
    deleted or invalid) are excluded. -#}
select
    deal_id,
    source,
    source_deal_id,
    deal_name,
    rep_id,
    account_id,
    stage,
    stage_category,
    probability,
    amount,
    currency,
    rate_to_reporting,
    amount_reporting,
    reporting_currency,
    created_at,
    close_date,
    modified_at,
    stage_category = 'won' as is_won,
    stage_category = 'lost' as is_lost,
    stage_category = 'open' as is_open
from {{ ref('int_deals_unioned') }}
where not is_deleted
