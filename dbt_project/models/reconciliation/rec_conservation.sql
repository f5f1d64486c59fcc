-- Nothing lost between landing, lake and marts:
--   per file:  rows read = accepted + quarantined + duplicates dropped
--   per batch: events the manifest accepted = events of that batch in the lake's files
--   per day:   events the batches recorded for the day = events counted in fct_usage_daily
--              (the daily aggregate was rebuilt from the lake for every day a batch touched)
--   per id:    an event_id is in the lake once (ingestion deduplicates within an event's day;
--              an id re-sent with another day's timestamp would otherwise be billed twice)
{%- set q = quantity_type() %}
{%- set events = ref('stg_lake__usage_events') %}
with

files as (select * from {{ ref('stg_lake__ingested_files') }}),
batch_days as (select * from {{ ref('stg_lake__batch_days') }}),
usage_daily as (select * from {{ ref('fct_usage_daily') }}),

per_file as (
    select
        'conservation_per_file' as check_name,
        cast(null as date) as period_start,
        file_path as subject,
        cast(rows_read as {{ q }}) as expected,
        cast(rows_accepted + rows_quarantined + duplicates_dropped as {{ q }}) as actual
    from files
    where rows_read <> rows_accepted + rows_quarantined + duplicates_dropped
),

lake_batches as (
    {{ lake_events_per_batch() }}
),

per_batch as (
    {{ batch_events_against_manifests('conservation_lake', 'files', 'lake_batches') }}
),

lake_days as (
    select event_date as usage_date, sum(events) as events
    from batch_days
    group by 1
),

mart_days as (
    select usage_date, sum(events) as events
    from usage_daily
    group by 1
),

per_day as (
    select
        'conservation_usage_daily' as check_name,
        {{ month_start('coalesce(l.usage_date, m.usage_date)') }} as period_start,
        cast(coalesce(l.usage_date, m.usage_date) as string) as subject,
        cast(coalesce(l.events, 0) as {{ q }}) as expected,
        cast(coalesce(m.events, 0) as {{ q }}) as actual
    from lake_days as l
    full outer join mart_days as m on l.usage_date = m.usage_date
    where coalesce(l.events, 0) <> coalesce(m.events, 0)
),

-- Ids are screened by hash: int_event_id_repeats holds, per date, the hashes also held on
-- another date (or twice on one). Only the days holding such a hash are read again, to group
-- those ids by the id itself.
repeats as (
    select usage_date, id_hash, other_date
    from {{ ref('int_event_id_repeats') }}
    where id_hash is not null
),

repeat_days as (
    select usage_date from repeats
    union
    select other_date as usage_date from repeats
),

reused_ids as (
    select
        'event_id_reused' as check_name,
        min({{ month_start('usage_date') }}) as period_start,
        event_id as subject,
        cast(1 as {{ q }}) as expected,
        cast(count(*) as {{ q }}) as actual
    from {{ events }}
    where
        event_date in (select d.usage_date from repeat_days as d)
        and {{ id_hash('event_id') }} in (select r.id_hash from repeats as r)
    group by 1, 3
    having count(*) > 1
),

final as (
    select * from per_file
    union all
    select * from reused_ids
    union all
    select * from per_batch
    union all
    select * from per_day
)

select {{ finding_columns("'error'", customer_id='cast(null as string)') }}
from final
