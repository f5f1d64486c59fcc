-- "As of": the latest event the committed batches hold, capped at the time its batch ran
-- (stg_lake__batch_days), so it never passes the moment a run or a live micro-batch read it.
-- One row; its columns are null while the lake holds no events. Every model that needs "as
-- of" (the periods to rate, the projection, credits still live, spend) reads it here.
with

latest as (
    select max(last_occurred_at) as as_of_at
    from {{ ref('stg_lake__batch_days') }}
)

select
    as_of_at,
    {{ utc_date('as_of_at') }} as as_of_date,
    {{ epoch_seconds('as_of_at') }} as as_of_epoch_seconds
from latest
