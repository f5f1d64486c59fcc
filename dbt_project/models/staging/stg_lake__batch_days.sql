-- Events each committed batch accepted per event date, and when the batch was committed
-- (ingested_at). A batch counts once its manifest is written (the commit): records of a batch
-- that crashed before it are not read.
-- last_occurred_at never passes the time its batch was ingested: an event stamped ahead of
-- the clock (accepted up to an hour ahead) must not carry "as of" into a day, or a month,
-- that has not begun when the batch ran.
with

ingested as (
    select batch_id, max(ingested_at) as ingested_at
    from {{ source('lake', 'ingested_files') }}
    group by 1
)

select
    d.batch_id,
    d.event_date,
    d.events,
    i.ingested_at,
    case
        when i.ingested_at < d.last_occurred_at then i.ingested_at
        else d.last_occurred_at
    end as last_occurred_at
from {{ source('lake', 'batch_days') }} as d
inner join ingested as i on d.batch_id = i.batch_id
