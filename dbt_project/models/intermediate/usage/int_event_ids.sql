-- The id index: every accepted event's id hash, by usage date. Incremental over the same
-- dates as int_usage_daily (the dates new batches touched), so a nightly run hashes only the
-- ids of those dates; finding an id used twice then groups 8-byte hashes, not id strings.
{{ config(**usage_date_incremental()) }}

-- depends_on: {{ ref('stg_lake__batch_days') }}
{%- set dates = usage_dates_to_rebuild(this, events_column='1') if is_incremental() else none %}

select
    event_date as usage_date,
    {{ id_hash('event_id') }} as id_hash
from {{ ref('stg_lake__usage_events') }}
where {{ date_in('event_date', dates) }}
