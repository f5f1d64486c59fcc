-- One row per accepted usage event (ingestion already deduplicated by event_id).
select
    event_id,
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
