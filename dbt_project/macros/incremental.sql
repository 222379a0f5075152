{#-
    Incremental staging: a staging model keeps yesterday's parsed rows and re-parses only what
    changed. Each raw landing table holds one row per record, its latest version, and the landing
    bumps `loaded_at` on every insert, update and (soft) delete (flows/warehouse/database.py), so
    "landed after the newest row already staged" is exactly the rows whose staged form can have
    changed. The quarantine can change without a landing, hence the two quarantine halves below.
    docs/dbt.md ("Incremental staging") explains why this gives the same rows as a full rebuild.

    The config of such a model (delete+insert on its record id; a table on Spark, whose Parquet
    tables have no delete):

        {{ config(
            materialized=staging_materialization(),
            incremental_strategy='delete+insert',
            unique_key='deal_id',
            on_schema_change='fail',
            post_hook="{{ drop_quarantined('zoho_deals', 'deal_id') }}"
        ) }}
        with source as (
            select * from {{ exclude_quarantined('zoho', 'zoho_deals') }}
            {{ landed_since_last_build('id', 'zoho_deals') }}
        ),
-#}

{#- incremental, or table on Spark (Parquet: no delete+insert, as int_rep_hierarchy_versions). -#}
{% macro staging_materialization() -%}
    {{- 'table' if target.type == 'spark' else 'incremental' -}}
{%- endmacro %}

{#-
    landed_since_last_build(raw_id, quarantined_table): on an incremental run, the `where` clause
    that keeps the landed rows newer than the newest `loaded_at` already staged, plus the rows of
    records released from quarantine since then (they were left out while quarantined and need
    not be landed again to come back). `raw_id` is the record (or parent record) id as an
    expression of the landed row, `quarantined_table` the raw table the quarantine names; leave
    both out for objects the gate never quarantines. Nothing on a full build.
-#}
{% macro landed_since_last_build(raw_id=none, quarantined_table=none) -%}
    {%- if is_incremental() -%}
        {%- set staged_up_to -%}
            (select coalesce(max(staged.loaded_at), cast('1900-01-01' as timestamp))
            from {{ this }} as staged)
        {%- endset %}
    where {{ tz_to_utc('loaded_at') }} > {{ staged_up_to }}
        {%- set quarantine = _quarantine_relation() if quarantined_table else none -%}
        {%- if quarantine is not none %}
        or {{ raw_id }} in (
            select released.id
            from {{ quarantine }} as released
            where released.raw_table = '{{ quarantined_table }}'
                and {{ tz_to_utc('released.released_at') }} > {{ staged_up_to }}
        )
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    drop_quarantined(quarantined_table, key): the post-hook that deletes from an incremental staging
    model the records quarantined right now. A record quarantined today without being landed again
    (a gate check that fails on an unchanged row) is not among the rows landed_since_last_build()
    selects, so delete+insert alone would keep yesterday's copy; a full rebuild would not have it.
    `key` is the record (or parent record) id as an expression of the staged row. Nothing on Spark
    (a table rebuilt every run) or before the first gate run (no ops.quarantine).
-#}
{% macro drop_quarantined(quarantined_table, key) -%}
    {%- set quarantine = _quarantine_relation() if target.type != 'spark' else none -%}
    {%- if quarantine is not none -%}
        delete from {{ this }}
        where {{ key }} in (
            select held.id
            from {{ quarantine }} as held
            where held.raw_table = '{{ quarantined_table }}' and held.released_at is null
        )
    {%- endif -%}
{%- endmacro %}

{#- ops.quarantine, or none when no gate has run on this warehouse yet. -#}
{% macro _quarantine_relation() -%}
    {%- if execute -%}
        {{ return(adapter.get_relation(database=target.database, schema='ops', identifier='quarantine')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#-
    drop_stale_stage_events(): the pre-hook of the incremental int_funnel_stage_events. Deletes
    the events of deals no longer in fct_deals (deleted, quarantined) and of deals with stage
    history staged after the newest `history_loaded_at` kept (changed since the last build: the
    staged history keeps the landing's `loaded_at`, as landed_since_last_build() relies on). The
    model then adds every deal of fct_deals with no events here, which re-adds those changed deals
    whole (a deal's events depend on its history alone) and adds new and released ones. Nothing
    on a full build.
-#}
{% macro drop_stale_stage_events() -%}
    {%- if is_incremental() -%}
        {%- set kept_up_to -%}
            (select coalesce(max(kept.history_loaded_at), cast('1900-01-01' as timestamp))
            from {{ this }} as kept)
        {%- endset -%}
    delete from {{ this }}
    where
        deal_id not in (select live.deal_id from {{ ref('fct_deals') }} as live)
        or deal_id in (
            select {{ dbt.concat(["'zoho:'", 'zoho.deal_id']) }}
            from {{ ref('stg_zoho__deal_stage_history') }} as zoho
            where zoho.loaded_at > {{ kept_up_to }}
            union all
            select {{ dbt.concat(["'fxiaoke:'", 'fxiaoke.deal_id']) }}
            from {{ ref('stg_fxiaoke__opportunity_stage_changes') }} as fxiaoke
            where fxiaoke.loaded_at > {{ kept_up_to }}
        )
    {%- endif -%}
{%- endmacro %}
