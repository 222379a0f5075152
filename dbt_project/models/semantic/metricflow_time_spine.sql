{#- The day spine MetricFlow joins cumulative metrics (month to date) to: the days of dim_date.
    A table in the marts schema so that `mf query` works on the published warehouse too; BI tools
    read dim_date, which has the calendar attributes. -#}
{{ config(materialized='table', schema='marts') }}

with calendar_days as (
    select date_day from {{ ref('dim_date') }}
)

select cast(date_day as date) as date_day
from calendar_days
