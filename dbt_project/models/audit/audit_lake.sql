-- The full audit at month close: every invariant the nightly checks for the dates
-- its batches touched, checked again over the whole lake, reading every event once.
--   per batch: the manifest's accepted events = the batch's events in the lake (rows read,
--              where the nightly counts Parquet footers)
--   per day:   the lake's events = the batches' recorded events = the daily aggregate, in
--              count and in quantity
--   per event: it sits in the folder of its own UTC day
--   per id:    no event_id twice in the lake, compared by the id itself (the nightly screens
--              by 64-bit hash)
--   per file:  the quarantine holds as many rows as the manifest says it rejected
-- Built only by the month_close job, before any invoice is issued: a finding here refuses the
-- close. One row per finding, in the columns of every reconciliation finding.
{%- set q = quantity_type() %}
with

events as (select * from {{ ref('stg_lake__usage_events') }}),
files as (select * from {{ ref('stg_lake__ingested_files') }}),
batch_days as (select * from {{ ref('stg_lake__batch_days') }}),
quarantine as (select * from {{ ref('stg_lake__quarantined_events') }}),
usage_daily as (select * from {{ ref('int_usage_daily') }}),

lake_batches as (
    select batch_id, count(*) as events
    from events
    group by 1
),

per_batch as (
    {{ batch_events_against_manifests('audit_batch_events', 'files', 'lake_batches') }}
),

lake_days as (
    select
        event_date,
        count(*) as events,
        sum(quantity) as quantity,
        sum(case when usage_date <> event_date then 1 else 0 end) as misplaced
    from events
    group by 1
),

recorded_days as (
    select event_date, sum(events) as events
    from batch_days
    group by 1
),

aggregate_days as (
    select usage_date as event_date, sum(events) as events, sum(quantity) as quantity
    from usage_daily
    group by 1
),

days as (
    select
        coalesce(l.event_date, r.event_date, a.event_date) as event_date,
        coalesce(l.events, 0) as lake_events,
        coalesce(r.events, 0) as recorded_events,
        coalesce(a.events, 0) as aggregate_events,
        coalesce(l.quantity, 0) as lake_quantity,
        coalesce(a.quantity, 0) as aggregate_quantity,
        coalesce(l.misplaced, 0) as misplaced
    from lake_days as l
    full outer join recorded_days as r on l.event_date = r.event_date
    full outer join aggregate_days as a on coalesce(l.event_date, r.event_date) = a.event_date
),

per_day as (
    select
        'audit_day_recorded' as check_name,
        event_date,
        recorded_events as expected,
        lake_events as actual
    from days
    where recorded_events <> lake_events
    union all
    select
        'audit_day_aggregate_events' as check_name,
        event_date,
        lake_events as expected,
        aggregate_events as actual
    from days
    where lake_events <> aggregate_events
    union all
    select
        'audit_day_aggregate_quantity' as check_name,
        event_date,
        lake_quantity as expected,
        aggregate_quantity as actual
    from days
    where lake_quantity <> aggregate_quantity
    union all
    select
        'audit_event_in_wrong_day' as check_name,
        event_date,
        0 as expected,
        misplaced as actual
    from days
    where misplaced <> 0
),

repeated_ids as (
    select
        'audit_event_id_repeated' as check_name,
        min({{ month_start('usage_date') }}) as period_start,
        event_id as subject,
        cast(1 as {{ q }}) as expected,
        cast(count(*) as {{ q }}) as actual
    from events
    group by 1, 3
    having count(*) > 1
),

quarantined_files as (
    select batch_id, file_path, count(*) as rows_quarantined
    from quarantine
    where reason <> 'unreadable_file'  -- a file refused whole: one row saying why, no rows read
    group by 1, 2
),

per_file as (
    select
        'audit_file_quarantine' as check_name,
        cast(null as date) as period_start,
        coalesce(f.file_path, q.file_path) as subject,
        cast(coalesce(f.rows_quarantined, 0) as {{ q }}) as expected,
        cast(coalesce(q.rows_quarantined, 0) as {{ q }}) as actual
    from files as f
    full outer join quarantined_files as q
        on f.batch_id = q.batch_id and f.file_path = q.file_path
    where coalesce(f.rows_quarantined, 0) <> coalesce(q.rows_quarantined, 0)
),

final as (
    select * from per_batch
    union all
    select
        check_name,
        {{ month_start('event_date') }} as period_start,
        cast(event_date as string) as subject,
        cast(expected as {{ q }}) as expected,
        cast(actual as {{ q }}) as actual
    from per_day
    union all
    select * from repeated_ids
    union all
    select * from per_file
)

select {{ finding_columns("'error'", customer_id='cast(null as string)') }}
from final
