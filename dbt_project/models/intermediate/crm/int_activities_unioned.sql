{#- Sales activities in one shape: Zoho tasks, calls and events (meetings), live records only
    (soft-deleted ones dropped). Fxiaoke activities are not ingested (the reference documents
    the ActiveRecordObj / 销售记录 object by name only, without fields), so every row is Zoho's.

    activity_at is when the activity happened: a call's start, a meeting's start, a task's
    completion (its due date, else its creation, while open). An activity is completed when it
    happened on or before the run date and: a task has status Completed; a call was not missed
    and is not scheduled, overdue or cancelled; a meeting has started. What_Id points at a deal
    or an account (`$se_module`); a deal's account is the deal's. -#}
with tasks as (
    select
        task_id as source_activity_id,
        'task' as activity_type,
        owner_id,
        what_id,
        what_module,
        who_id,
        subject,
        coalesce(closed_at, cast(due_date as {{ dbt.type_timestamp() }}), created_at) as activity_at,
        coalesce(status = 'Completed', false) as is_done
    from {{ ref('stg_zoho__tasks') }}
    where not is_deleted
),

calls as (
    select
        call_id as source_activity_id,
        'call' as activity_type,
        owner_id,
        what_id,
        what_module,
        who_id,
        subject,
        coalesce(call_started_at, created_at) as activity_at,
        (
            coalesce(call_type, '') <> 'Missed'
            and coalesce(call_status, 'Completed') not in ('Scheduled', 'Overdue', 'Cancelled')
        ) as is_done
    from {{ ref('stg_zoho__calls') }}
    where not is_deleted
),

meetings as (
    select
        event_id as source_activity_id,
        'meeting' as activity_type,
        owner_id,
        what_id,
        what_module,
        who_id,
        event_title as subject,
        coalesce(starts_at, created_at) as activity_at,
        true as is_done
    from {{ ref('stg_zoho__events') }}
    where not is_deleted
),

unioned as (
    select * from tasks
    union all
    select * from calls
    union all
    select * from meetings
),

deals as (
    select
        deal_id,
        account_id
    from {{ ref('int_deals_unioned') }}
)

select
    {{ dbt.concat(["'zoho:'", 'a.source_activity_id']) }} as activity_id,
    'zoho' as source,
    a.source_activity_id,
    a.activity_type,
    case when a.owner_id is not null then {{ dbt.concat(["'zoho:'", 'a.owner_id']) }} end as rep_id,
    case when a.what_module = 'Deals' then {{ dbt.concat(["'zoho:'", 'a.what_id']) }} end as deal_id,
    case
        when a.what_module = 'Accounts' then {{ dbt.concat(["'zoho:'", 'a.what_id']) }}
        when a.what_module = 'Deals' then d.account_id
    end as account_id,
    case when a.who_id is not null then {{ dbt.concat(["'zoho:'", 'a.who_id']) }} end as contact_id,
    a.subject,
    a.activity_at,
    cast(a.activity_at as date) as activity_date,
    (a.is_done and cast(a.activity_at as date) <= {{ run_date_literal() }}) as is_completed
from unioned as a
left join deals as d
    on a.what_module = 'Deals' and d.deal_id = {{ dbt.concat(["'zoho:'", 'a.what_id']) }}
