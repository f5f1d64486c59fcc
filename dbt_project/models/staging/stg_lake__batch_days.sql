-- Events each committed batch accepted per event date. A batch counts once its manifest is
-- written (the commit): records of a batch that crashed before it are not read.
select
    d.batch_id,
    d.event_date,
    d.events,
    d.last_occurred_at
from {{ source('lake', 'batch_days') }} as d
where d.batch_id in (select f.batch_id from {{ source('lake', 'ingested_files') }} as f)
