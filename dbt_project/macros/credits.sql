{#- Roll-up credit to every level above a direct credit's rep, as of the credit date
    (int_credit_lines; docs/commission_plans.md, "Hierarchy cascades"). Returns CTEs
    rollup_level_1 .. rollup_level_<n> and rollup_credits (their union), to be placed after the
    CTEs `direct` (direct credits) and `history` (dim_sales_rep_history). Bounded self-joins, not
    a recursive CTE: Spark has none, and the same SQL builds on DuckDB and PostgreSQL. Level k
    joins the level k-1 recipient to its hierarchy version valid on the credit date (half-open);
    path_reps ('|rep|m1|m2|') stops a cycle, as flows/commissions/hierarchy.py does. n is
    var('rollup_max_levels', 10); tests/credits/assert_rollup_chains_within_max_levels fails when
    a chain is deeper. -#}
{% macro rollup_credit_levels(direct, history) %}
{%- set max_levels = var('rollup_max_levels', 10) | int %}
{%- for level in range(1, max_levels + 1) %}
{%- set below = direct if level == 1 else 'rollup_level_' ~ (level - 1) %}

rollup_level_{{ level }} as (
    -- level {{ level }}: the manager, as of the credit date, of the level {{ level - 1 }} recipient
    select
        {{ dbt.concat(['d.credit_id', "'>'", 'h.manager_id']) }} as credit_id,
        d.deal_id,
        h.manager_id as rep_id,
        'rollup' as credit_kind,
        d.credit_basis,
        d.split_type,
        d.credit_date,
        d.split_share,
        d.original_amount,
        d.original_currency,
        d.fx_rate,
        d.credit_amount,
        {%- if level == 1 %}
        {{ dbt.concat(["'|'", 'd.rep_id', "'|'", 'h.manager_id', "'|'"]) }} as path_reps
        {%- else %}
        {{ dbt.concat(['d.path_reps', 'h.manager_id', "'|'"]) }} as path_reps
        {%- endif %}
    from {{ below }} as d
    inner join {{ history }} as h
        on
            h.rep_id = d.rep_id
            and h.valid_from <= d.credit_date
            and (h.valid_to is null or h.valid_to > d.credit_date)
    where
        h.manager_id is not null
        {%- if level == 1 %}
        and h.manager_id != d.rep_id
        {%- else %}
        and {{ dbt.position(dbt.concat(["'|'", 'h.manager_id', "'|'"]), 'd.path_reps') }} = 0
        {%- endif %}
),
{%- endfor %}

rollup_credits as (
    {%- for level in range(1, max_levels + 1) %}
    {{ 'union all' if not loop.first }}
    select
        credit_id,
        deal_id,
        rep_id,
        credit_kind,
        credit_basis,
        split_type,
        credit_date,
        split_share,
        original_amount,
        original_currency,
        fx_rate,
        credit_amount
    from rollup_level_{{ level }}
    {%- endfor %}
)
{% endmacro %}
