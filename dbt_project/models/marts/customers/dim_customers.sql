{#- One row per account of both CRMs with its profile, purchase history, RFM scores and
    segment as of var('run_date'), and data-quality flags (industry misspelt or unknown to the
    industry_mapping seed) that keep the CRM's own spelling visible. High value = top monetary
    quintile (monetary_score 5). -#}
with accounts as (
    select * from {{ ref('int_customer_accounts') }}
),

industries as (
    select * from {{ ref('industry_mapping') }}
),

rfm as (
    select * from {{ ref('int_customer_rfm') }}
),

deals as (
    select
        account_id,
        min(case when is_won then close_date end) as first_purchase_date,
        max(case when is_won then close_date end) as last_purchase_date,
        cast(sum(case when is_won then 1 else 0 end) as bigint) as won_deals,
        cast(sum(case when is_lost then 1 else 0 end) as bigint) as lost_deals,
        cast(sum(case when is_open then 1 else 0 end) as bigint) as open_deals,
        sum(case when is_won then coalesce(amount_reporting, 0) else 0 end) as lifetime_revenue
    from {{ ref('fct_deals') }}
    where account_id is not null
    group by 1
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

scored as (
    select
        a.*,
        i.industry_standard,
        coalesce(i.is_known_misspelling, false) as industry_is_misspelt,
        (a.industry is not null and i.industry is null) as industry_is_unmapped,
        d.first_purchase_date,
        d.last_purchase_date,
        coalesce(d.won_deals, 0) as won_deals,
        coalesce(d.lost_deals, 0) as lost_deals,
        coalesce(d.open_deals, 0) as open_deals,
        cast(coalesce(d.lifetime_revenue, 0) as decimal(18, 2)) as lifetime_revenue,
        r.recency_days,
        r.recency_score,
        r.frequency_score,
        r.monetary_score
    from accounts as a
    left join industries as i on i.industry = a.industry
    left join deals as d on d.account_id = a.account_id
    left join rfm as r on r.account_id = a.account_id
)

select
    s.account_id,
    s.source,
    s.source_account_id,
    s.account_name,
    s.industry,
    s.industry_standard,
    s.industry_is_misspelt,
    s.industry_is_unmapped,
    s.country,
    s.owner_rep_id,
    o.rep_name as owner_name,
    o.email as owner_email,
    o.team_name as owner_team_name,
    o.region_name as owner_region_name,
    s.parent_account_id,
    s.annual_revenue,
    s.credit_limit,
    s.satisfaction_score,
    s.created_at,
    s.first_purchase_date,
    s.last_purchase_date,
    s.won_deals,
    s.lost_deals,
    s.open_deals,
    s.lifetime_revenue,
    s.won_deals > 0 as is_customer,
    s.won_deals > 1 as is_repeat_customer,
    cast(s.recency_days as bigint) as recency_days,
    s.recency_score,
    s.frequency_score,
    s.monetary_score,
    case
        when s.recency_score is not null
            then {{ dbt.concat([
            'cast(s.recency_score as ' ~ dbt.type_string() ~ ')',
            'cast(s.frequency_score as ' ~ dbt.type_string() ~ ')',
            'cast(s.monetary_score as ' ~ dbt.type_string() ~ ')']) }}
    end as rfm_cell,
    case
        when s.recency_score is null then 'prospect'
        when s.recency_score >= 4 and s.frequency_score >= 4 then 'champion'
        when s.recency_score <= 2 and s.frequency_score >= 3 then 'at_risk'
        when s.frequency_score >= 4 then 'loyal'
        when s.recency_score >= 4 and s.frequency_score <= 2 then 'new'
        when s.recency_score <= 2 then 'hibernating'
        else 'potential'
    end as rfm_segment,
    coalesce(s.monetary_score = 5, false) as is_high_value,
    {{ reporting_currency() }} as currency
from scored as s
left join reps as o on o.rep_id = s.owner_rep_id
