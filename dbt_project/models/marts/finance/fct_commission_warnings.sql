{#- What the commission engine could not pay or would pay suspiciously (no silent wrong pay):
    the engine's warnings of its last run (finance.commission_warnings, written by run_engine:
    unmatched credits, targets and assignments, rates above 100 %, months paid without a target,
    negative payables) plus rep targets of targets.csv whose e-mail matches no CRM user.
    Codes and meanings: flows/commissions/pay_warnings.py, docs/commission_plans.md. -#}
{%- set engine = source('commission_engine_warnings', 'commission_warnings') -%}
{%- set ready = execute and adapter.get_relation(
        database=engine.database, schema=engine.schema, identifier=engine.identifier) is not none -%}

with engine_warnings as (
    {%- if ready %}
    select
        cast(warning_code as {{ type_varchar() }}) as warning_code,
        cast(period_month as date) as period_month,
        cast(rep_id as {{ type_varchar() }}) as rep_id,
        cast(subject as {{ type_varchar() }}) as subject,
        cast(message as {{ type_varchar() }}) as message,
        'commission engine' as raised_by,
        cast(run_date as date) as run_date
    from {{ engine }}
    {%- else %}
        select
            cast(null as {{ type_varchar() }}) as warning_code,
            cast(null as date) as period_month,
            cast(null as {{ type_varchar() }}) as rep_id,
            cast(null as {{ type_varchar() }}) as subject,
            cast(null as {{ type_varchar() }}) as message,
            cast(null as {{ type_varchar() }}) as raised_by,
            cast(null as date) as run_date
        where 1 = 0
    {%- endif %}
),

unmatched_rep_targets as (
    select distinct
        'unmatched_target' as warning_code,
        cast(null as date) as period_month,
        cast(null as {{ type_varchar() }}) as rep_id,
        'targets.csv ' || scope_key as subject,
        'rep target of ' || scope_key
        || ' (config/targets.csv) matches no CRM user (e-mails compared case-insensitively): '
        || 'no commission uses it' as message,
        'targets' as raised_by,
        cast(null as date) as run_date
    from {{ ref('int_target_scopes') }}
    where scope_type = 'rep' and rep_id is null
)

select * from engine_warnings
union all
select * from unmatched_rep_targets
