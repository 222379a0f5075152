{#- int_credit_lines walks the hierarchy with bounded self-joins, up to var('rollup_max_levels')
    levels (Spark has no recursive CTE). A chain deeper than that would be cut without a word, so
    this test returns every roll-up credit of the deepest level built whose recipient still has a
    manager (not already on the path) on the credit date: raise the var when it fails. The
    commission engine walks the whole chain itself (flows/commissions/hierarchy.py). -#}
{%- set max_levels = var('rollup_max_levels', 10) | int %}
with deepest as (
    select
        credit_id,
        rep_id,
        credit_date
    from {{ ref('int_credit_lines') }}
    where
        credit_kind = 'rollup'
        -- the level is the number of '>' in the id path
        and {{ dbt.length('credit_id') }}
        - {{ dbt.length(dbt.replace('credit_id', "'>'", "''")) }} = {{ max_levels }}
),

history as (
    select * from {{ ref('dim_sales_rep_history') }}
)

select
    d.credit_id,
    h.manager_id as manager_above
from deepest as d
inner join history as h
    on
        h.rep_id = d.rep_id
        and h.valid_from <= d.credit_date
        and (h.valid_to is null or h.valid_to > d.credit_date)
where
    h.manager_id is not null
    and {{ dbt.position(dbt.concat(["'>'", 'h.manager_id', "'>'"]), dbt.concat(['d.credit_id', "'>'"])) }} = 0
