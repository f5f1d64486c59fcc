-- One row per accepted usage event (ingestion already deduplicated by event_id). event_date
-- is the lake's partition (equal to usage_date): filtering on it reads only those folders.
select
    event_id,
    event_date,
    occurred_at,
    {{ utc_date('occurred_at') }} as usage_date,
    customer_id,
    metric,
    cast(quantity as {{ quantity_type() }}) as quantity,
    status,
    properties,
    source_file,
    source_row,
    batch_id
from {{ source('lake', 'usage_events') }}
