{{ config(
    severity='warn',
    store_failures=true,
    meta={
        'gate_severity': 'critical',
        'gate_suite': 'marts_reconciliation',
        'column': 'team_rollup_max_diff',
        'observed': 'diff',
        'description': 'team roll-ups equal the sum of their reps (where roll-ups exist)',
    },
) }}
{#- Σ of a roll-up = Σ of its reps in the levelled scorecard: every team, region and company row
    of fct_sales_scorecard against the sum of the rep rows with the same period (and team /
    region), for the additive measures the mart has. Only the parents' keys are compared (a level
    need not exist for every period). Returns the parents that differ by more than 0.01. -#}
{%- set scorecard = ref('fct_sales_scorecard') -%}
{%- set present = adapter.get_columns_in_relation(scorecard) | map(attribute='name') | list if execute else [] -%}
{%- set measures = [] -%}
{%- for m in ['won_amount', 'target_amount', 'deals_won', 'deals_lost', 'open_pipeline_amount'] if m in present -%}
    {%- do measures.append(m) -%}
{%- endfor -%}
{%- set period = [] -%}
{%- for c in ['period_grain', 'period_start', 'period_month'] if c in present -%}
    {%- do period.append(c) -%}
{%- endfor -%}
{%- if measures and period %}
{%- for level, scope in [('team', 'team_name'), ('region', 'region_name'), ('company', none)] %}
{%- set keys = period + ([scope] if scope and scope in present else []) %}
{{ 'union all' if not loop.first }}
select
    '{{ level }}' as scorecard_level,
    {% for k in period %}cast(p.{{ k }} as {{ type_varchar() }}) as {{ k }}, {% endfor %}
    {{ ('cast(p.' ~ scope ~ ' as ' ~ type_varchar() ~ ')') if scope and scope in present else "'company'" }} as scope_key,
    greatest({% for m in measures %}abs(coalesce(p.{{ m }}, 0) - coalesce(c.{{ m }}, 0)){{ ', ' if not loop.last }}{% endfor %}) as diff
from (
    select {{ keys | join(', ') }}, {% for m in measures %}sum({{ m }}) as {{ m }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ scorecard }} where scorecard_level = '{{ level }}' group by {{ keys | join(', ') }}
) as p
left join (
    select {{ keys | join(', ') }}, {% for m in measures %}sum({{ m }}) as {{ m }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ scorecard }} where scorecard_level = 'rep' group by {{ keys | join(', ') }}
) as c
    on {% for k in keys %}p.{{ k }} is not distinct from c.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
where greatest({% for m in measures %}abs(coalesce(p.{{ m }}, 0) - coalesce(c.{{ m }}, 0)){{ ', ' if not loop.last }}{% endfor %}) > 0.01
{%- endfor %}
{%- else %}
select cast(null as {{ type_varchar() }}) as scorecard_level, 0 as diff
where false
{%- endif %}
