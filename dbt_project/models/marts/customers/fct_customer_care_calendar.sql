{#- Customer-care dates of the next 14 days (var('run_date') and the 13 days after it), per
    account owner: contact birthdays (a 29 February birthday falls on 28 February in other
    years), anniversaries of an account's first purchase (first won deal), and public holidays
    of the company calendar (dim_date; one row per owner with customers). -#}
{%- set horizon_days = var('care_calendar_days', 14) -%}

with window_days as (
    select
        d.date_day,
        d.calendar_year,
        d.calendar_month,
        d.day_of_month,
        d.is_holiday,
        d.holiday_name,
        cast(extract(month from {{ dbt.dateadd('day', 1, 'd.date_day') }}) as integer) as next_day_month
    from {{ ref('dim_date') }} as d
    where
        d.date_day >= {{ run_date_literal() }}
        and d.date_day < cast({{ dbt.dateadd('day', horizon_days, run_date_literal()) }} as date)
),

contacts as (
    select
        {{ dbt.concat(["'zoho:'", 'contact_id']) }} as contact_id,
        case when account_id is not null then {{ dbt.concat(["'zoho:'", 'account_id']) }} end as account_id,
        case when owner_id is not null then {{ dbt.concat(["'zoho:'", 'owner_id']) }} end as owner_rep_id,
        full_name as contact_name,
        birth_date
    from {{ ref('stg_zoho__contacts') }}
    where not is_deleted and birth_date is not null
    union all
    select
        {{ dbt.concat(["'fxiaoke:'", 'contact_id']) }} as contact_id,
        case
            when account_id is not null then {{ dbt.concat(["'fxiaoke:'", 'account_id']) }}
        end as account_id,
        case when owner_id is not null then {{ dbt.concat(["'fxiaoke:'", 'owner_id']) }} end as owner_rep_id,
        contact_name,
        birthday as birth_date
    from {{ ref('stg_fxiaoke__contacts') }}
    where not is_deleted and birthday is not null
),

customers as (
    select * from {{ ref('dim_customers') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

birthdays as (
    select
        w.date_day as event_date,
        'birthday' as event_type,
        c.owner_rep_id,
        c.account_id,
        c.contact_id,
        c.contact_name,
        w.calendar_year - cast(extract(year from c.birth_date) as integer) as years,
        cast(null as {{ dbt.type_string() }}) as holiday_name
    from contacts as c
    inner join window_days as w
        on
            (
                w.calendar_month = cast(extract(month from c.birth_date) as integer)
                and w.day_of_month = cast(extract(day from c.birth_date) as integer)
            )
            or (
                cast(extract(month from c.birth_date) as integer) = 2
                and cast(extract(day from c.birth_date) as integer) = 29
                and w.calendar_month = 2 and w.day_of_month = 28 and w.next_day_month = 3
            )
),

anniversaries as (
    select
        w.date_day as event_date,
        'first_purchase_anniversary' as event_type,
        c.owner_rep_id,
        c.account_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as contact_name,
        w.calendar_year - cast(extract(year from c.first_purchase_date) as integer) as years,
        cast(null as {{ dbt.type_string() }}) as holiday_name
    from customers as c
    inner join window_days as w
        on
            (
                (
                    w.calendar_month = cast(extract(month from c.first_purchase_date) as integer)
                    and w.day_of_month = cast(extract(day from c.first_purchase_date) as integer)
                )
                or (
                    cast(extract(month from c.first_purchase_date) as integer) = 2
                    and cast(extract(day from c.first_purchase_date) as integer) = 29
                    and w.calendar_month = 2 and w.day_of_month = 28 and w.next_day_month = 3
                )
            )
            and w.calendar_year > cast(extract(year from c.first_purchase_date) as integer)
    where c.first_purchase_date is not null
),

owners as (
    select distinct owner_rep_id from customers
    where is_customer and owner_rep_id is not null
),

holidays as (
    select
        w.date_day as event_date,
        'public_holiday' as event_type,
        o.owner_rep_id,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as contact_id,
        cast(null as {{ dbt.type_string() }}) as contact_name,
        cast(null as integer) as years,
        w.holiday_name
    from window_days as w
    cross join owners as o
    where w.is_holiday
),

events as (
    select * from birthdays
    union all
    select * from anniversaries
    union all
    select * from holidays
)

select
    {{ dbt.concat([
        'e.event_type', "'|'", 'cast(e.event_date as ' ~ dbt.type_string() ~ ')', "'|'",
        "coalesce(e.owner_rep_id, '')", "'|'", "coalesce(e.account_id, '')", "'|'",
        "coalesce(e.contact_id, '')"]) }} as care_event_id,
    e.event_date,
    cast({{ dbt.datediff(run_date_literal(), 'e.event_date', 'day') }} as bigint) as days_until,  -- noqa: LT05
    e.event_type,
    e.owner_rep_id,
    r.rep_name as owner_name,
    r.email as owner_email,
    e.account_id,
    c.account_name,
    e.contact_id,
    e.contact_name,
    e.years,
    e.holiday_name
from events as e
left join reps as r on r.rep_id = e.owner_rep_id
left join customers as c on c.account_id = e.account_id
