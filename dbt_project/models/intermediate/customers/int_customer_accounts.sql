{#- Accounts of both CRMs in one shape (not deleted; Fxiaoke invalid/deleted records excluded),
    with prefixed ids. `credit_limit` and `satisfaction_score` are read from staging when the
    staging models carry them (they are being added to stg_*__accounts) and are null otherwise,
    so the customer marts work on either version of staging. -#}
{%- set present = {'zoho': [], 'fxiaoke': []} -%}
{%- if execute -%}
    {%- for src, rel in [('zoho', ref('stg_zoho__accounts')), ('fxiaoke', ref('stg_fxiaoke__accounts'))] -%}
        {%- for c in adapter.get_columns_in_relation(rel) -%}
            {%- do present[src].append(c.name | lower) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif -%}

with zoho as (
    select
        {{ dbt.concat(["'zoho:'", 'account_id']) }} as account_id,
        'zoho' as source,
        account_id as source_account_id,
        account_name,
        industry,
        billing_country as country,
        case when owner_id is not null then {{ dbt.concat(["'zoho:'", 'owner_id']) }} end as owner_rep_id,
        case when parent_account_id is not null then {{ dbt.concat(["'zoho:'", 'parent_account_id']) }} end
            as parent_account_id,
        annual_revenue,
        {% if 'credit_limit' in present['zoho'] %}cast(credit_limit as decimal(18, 2)){% else %}cast(null as decimal(18, 2)){% endif %}
            as credit_limit,
        {% if 'satisfaction_score' in present['zoho'] %}cast(satisfaction_score as decimal(5, 2)){% else %}cast(null as decimal(5, 2)){% endif %}
            as satisfaction_score,
        created_at
    from {{ ref('stg_zoho__accounts') }}
    where not is_deleted
),

fxiaoke as (
    select
        {{ dbt.concat(["'fxiaoke:'", 'account_id']) }} as account_id,
        'fxiaoke' as source,
        account_id as source_account_id,
        account_name,
        industry,
        cast(null as {{ dbt.type_string() }}) as country,
        case when owner_id is not null then {{ dbt.concat(["'fxiaoke:'", 'owner_id']) }} end as owner_rep_id,
        cast(null as {{ dbt.type_string() }}) as parent_account_id,
        annual_revenue,
        {% if 'credit_limit' in present['fxiaoke'] %}cast(credit_limit as decimal(18, 2)){% else %}cast(null as decimal(18, 2)){% endif %}
            as credit_limit,
        {% if 'satisfaction_score' in present['fxiaoke'] %}cast(satisfaction_score as decimal(5, 2)){% else %}cast(null as decimal(5, 2)){% endif %}
            as satisfaction_score,
        created_at
    from {{ ref('stg_fxiaoke__accounts') }}
    where
        not is_deleted
        and not coalesce(is_deleted_in_crm, false)
        and coalesce(life_status, 'normal') <> 'invalid'
)

select * from zoho
union all
select * from fxiaoke
