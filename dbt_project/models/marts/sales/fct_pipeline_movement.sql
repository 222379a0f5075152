{#- How each rep's open pipeline moved in each ISO week, from the daily snapshots
    (fct_pipeline_snapshots). A week runs from its opening snapshot (the last one before its
    Monday) to its closing snapshot (its last one, the run date in the current week); a week
    without an earlier snapshot has no opening and no row. Every deal in the rep's pipeline at
    the opening or at a snapshot of the week counts once:
    - opening: in the opening snapshot; new: not in it, in a snapshot of the week (created,
      reopened or reassigned to the rep);
    - won / lost: gone by the closing snapshot and now won / lost with the rep; removed: gone
      otherwise (deleted, or reassigned to another rep);
    - advanced / moved_back / slipped: still open at the closing, in a later / earlier stage, or
      with a later close date, than when the week first saw it (amounts at the closing);
    - amount_change: last amount seen minus first amount seen in the week (amount edits).
    So opening + new - won - lost - removed = closing for counts, and the same plus
    amount_change for amounts (data tests). Exits count at the last amount seen. -#}
with snapshots as (
    select * from {{ ref('fct_pipeline_snapshots') }}
),

deals as (
    select * from {{ ref('fct_deals') }}
),

reps as (
    select * from {{ ref('dim_sales_reps') }}
),

snapshot_days as (
    select distinct
        snapshot_date,
        cast({{ dbt.date_trunc('week', 'snapshot_date') }} as date) as week_start
    from snapshots
),

snapshot_weeks as (
    select
        week_start,
        max(snapshot_date) as closing_snapshot_date
    from snapshot_days
    group by week_start
),

weeks as (
    select
        week_start,
        cast({{ dbt.dateadd('day', 6, 'week_start') }} as date) as week_end,
        lag(closing_snapshot_date) over (order by week_start) as opening_snapshot_date,
        closing_snapshot_date
    from snapshot_weeks
),

seen as (
    -- the opening snapshot, then every snapshot of the week
    select
        w.week_start,
        s.rep_id,
        s.deal_id,
        s.snapshot_date,
        true as is_opening,
        s.snapshot_date = w.closing_snapshot_date as is_closing,
        s.stage_order,
        s.close_date,
        coalesce(s.amount_reporting, 0) as amount
    from weeks as w
    inner join snapshots as s on s.snapshot_date = w.opening_snapshot_date

    union all

    select
        w.week_start,
        s.rep_id,
        s.deal_id,
        s.snapshot_date,
        false as is_opening,
        s.snapshot_date = w.closing_snapshot_date as is_closing,
        s.stage_order,
        s.close_date,
        coalesce(s.amount_reporting, 0) as amount
    from weeks as w
    inner join snapshots as s
        on s.snapshot_date >= w.week_start and s.snapshot_date <= w.closing_snapshot_date
    where w.opening_snapshot_date is not null
),

deal_weeks as (
    -- one row per deal the rep's week saw: the first and last snapshot's values by date (a deal is
    -- in a snapshot once, so the dates never tie); one aggregate, not a sort per (week, rep, deal)
    select
        week_start,
        rep_id,
        deal_id,
        max(case when is_opening then 1 else 0 end) as in_opening,
        max(case when is_closing then 1 else 0 end) as in_closing,
        {{ first_by('amount', 'snapshot_date') }} as first_amount,
        {{ last_by('amount', 'snapshot_date') }} as last_amount,
        {{ first_by('stage_order', 'snapshot_date') }} as first_stage_order,
        {{ last_by('stage_order', 'snapshot_date') }} as last_stage_order,
        {{ first_by('close_date', 'snapshot_date') }} as first_close_date,
        {{ last_by('close_date', 'snapshot_date') }} as last_close_date
    from seen
    group by week_start, rep_id, deal_id
),

classified as (
    select
        m.*,
        case
            when m.in_closing = 1 then 'open'
            when d.rep_id = m.rep_id and d.is_won then 'won'
            when d.rep_id = m.rep_id and d.is_lost then 'lost'
            else 'removed'
        end as outcome,
        m.in_closing = 1 and m.last_stage_order > m.first_stage_order as is_advanced,
        m.in_closing = 1 and m.last_stage_order < m.first_stage_order as is_moved_back,
        m.in_closing = 1 and m.last_close_date > m.first_close_date as is_slipped
    from deal_weeks as m
    left join deals as d on d.deal_id = m.deal_id
),

movement as (
    select
        week_start,
        rep_id,
        sum(in_opening) as opening_count,
        sum(case when in_opening = 1 then first_amount else 0 end) as opening_amount,
        sum(1 - in_opening) as new_count,
        sum(case when in_opening = 0 then first_amount else 0 end) as new_amount,
        sum(case when is_advanced then 1 else 0 end) as advanced_count,
        sum(case when is_advanced then last_amount else 0 end) as advanced_amount,
        sum(case when is_moved_back then 1 else 0 end) as moved_back_count,
        sum(case when is_moved_back then last_amount else 0 end) as moved_back_amount,
        sum(case when is_slipped then 1 else 0 end) as slipped_count,
        sum(case when is_slipped then last_amount else 0 end) as slipped_amount,
        sum(case when outcome = 'won' then 1 else 0 end) as won_count,
        sum(case when outcome = 'won' then last_amount else 0 end) as won_amount,
        sum(case when outcome = 'lost' then 1 else 0 end) as lost_count,
        sum(case when outcome = 'lost' then last_amount else 0 end) as lost_amount,
        sum(case when outcome = 'removed' then 1 else 0 end) as removed_count,
        sum(case when outcome = 'removed' then last_amount else 0 end) as removed_amount,
        sum(last_amount - first_amount) as amount_change,
        sum(in_closing) as closing_count,
        sum(case when in_closing = 1 then last_amount else 0 end) as closing_amount
    from classified
    group by week_start, rep_id
),

closing_next_week as (
    -- open deals of the closing snapshot expected to close in the following ISO week
    select
        w.week_start,
        s.rep_id,
        count(*) as next_week_close_count,
        sum(coalesce(s.amount_reporting, 0)) as next_week_close_amount
    from weeks as w
    inner join snapshots as s on s.snapshot_date = w.closing_snapshot_date
    where
        s.close_date > w.week_end
        and s.close_date <= cast({{ dbt.dateadd('day', 7, 'w.week_end') }} as date)
    group by w.week_start, s.rep_id
)

select
    w.week_start,
    w.week_end,
    w.opening_snapshot_date,
    w.closing_snapshot_date,
    w.closing_snapshot_date = w.week_end as is_week_complete,
    cast(m.rep_id as {{ type_varchar() }}) as rep_id,
    cast(r.rep_name as {{ type_varchar() }}) as rep_name,
    cast(r.team_name as {{ type_varchar() }}) as team_name,
    cast(r.manager_id as {{ type_varchar() }}) as manager_id,
    cast(m.opening_count as bigint) as opening_count,
    cast(m.opening_amount as decimal(18, 2)) as opening_amount,
    cast(m.new_count as bigint) as new_count,
    cast(m.new_amount as decimal(18, 2)) as new_amount,
    cast(m.advanced_count as bigint) as advanced_count,
    cast(m.advanced_amount as decimal(18, 2)) as advanced_amount,
    cast(m.moved_back_count as bigint) as moved_back_count,
    cast(m.moved_back_amount as decimal(18, 2)) as moved_back_amount,
    cast(m.slipped_count as bigint) as slipped_count,
    cast(m.slipped_amount as decimal(18, 2)) as slipped_amount,
    cast(m.won_count as bigint) as won_count,
    cast(m.won_amount as decimal(18, 2)) as won_amount,
    cast(m.lost_count as bigint) as lost_count,
    cast(m.lost_amount as decimal(18, 2)) as lost_amount,
    cast(m.removed_count as bigint) as removed_count,
    cast(m.removed_amount as decimal(18, 2)) as removed_amount,
    cast(m.amount_change as decimal(18, 2)) as amount_change,
    cast(m.closing_count as bigint) as closing_count,
    cast(m.closing_amount as decimal(18, 2)) as closing_amount,
    cast(coalesce(n.next_week_close_count, 0) as bigint) as next_week_close_count,
    cast(coalesce(n.next_week_close_amount, 0) as decimal(18, 2)) as next_week_close_amount
from movement as m
inner join weeks as w on w.week_start = m.week_start
left join reps as r on r.rep_id = m.rep_id
left join closing_next_week as n on n.week_start = m.week_start and n.rep_id = m.rep_id
