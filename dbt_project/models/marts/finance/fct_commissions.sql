{#- Commission statement lines, one per line of finance.commission_lines, the ledger the
    commission engine (flows/commissions, run_engine) writes after dbt built int_credit_lines:
    closed periods exactly as closed (finance.closed_statement_lines), open periods freshly
    calculated plus prior-period adjustment lines. Rules: docs/commission_plans.md.
    Until the engine has run once the ledger does not exist and this model is empty. -#}
{%- set columns = [
    ('commission_line_id', 'varchar'), ('line_type', 'varchar'), ('rep_id', 'varchar'),
    ('period_month', 'date'), ('deal_id', 'varchar'), ('credit_id', 'varchar'),
    ('credit_kind', 'varchar'), ('credit_basis', 'varchar'), ('credit_date', 'date'),
    ('plan_id', 'varchar'), ('plan_version', 'integer'), ('component', 'varchar'),
    ('component_type', 'varchar'), ('tier_position', 'varchar'), ('tier_number', 'integer'),
    ('band_lower', 'decimal(18, 4)'), ('band_upper', 'decimal(18, 4)'), ('rate', 'decimal(9, 6)'),
    ('weight', 'decimal(9, 4)'), ('multiplier', 'decimal(9, 4)'), ('credit_amount', 'decimal(18, 2)'),
    ('split_share', 'decimal(9, 6)'), ('original_amount', 'decimal(18, 2)'),
    ('original_currency', 'varchar'), ('fx_rate', 'decimal(18, 8)'), ('target_amount', 'decimal(18, 2)'),
    ('attainment', 'decimal(18, 6)'), ('running_before', 'decimal(18, 2)'),
    ('running_after', 'decimal(18, 2)'), ('base_amount', 'decimal(18, 2)'),
    ('commission_amount', 'decimal(18, 2)'), ('currency', 'varchar'), ('related_line_id', 'varchar'),
    ('source_period', 'date'), ('explanation', 'varchar')
] -%}
{%- set ledger = source('commissions_engine', 'commission_lines') -%}
{%- set periods = source('commissions_engine', 'commission_periods') -%}
{%- set ready = execute and adapter.get_relation(
        database=ledger.database, schema=ledger.schema, identifier=ledger.identifier) is not none
    and adapter.get_relation(
        database=periods.database, schema=periods.schema, identifier=periods.identifier) is not none -%}

{%- if ready %}
select
    {%- for name, type in columns %}
    cast(l.{{ name }} as {{ type_varchar() if type == 'varchar' else type }}) as {{ name }},
    {%- endfor %}
    l.credit_date as close_date,
    case when p.period_month is null then 'open' else 'closed' end as period_status,
    l.run_date as calculated_for
from {{ ledger }} as l
left join {{ periods }} as p on p.period_month = l.period_month
{%- else %}
    select
        {%- for name, type in columns %}
            cast(null as {{ type_varchar() if type == 'varchar' else type }}) as {{ name }},
        {%- endfor %}
        cast(null as date) as close_date,
        cast(null as {{ type_varchar() }}) as period_status,
        cast(null as date) as calculated_for
    where 1 = 0
{%- endif %}
