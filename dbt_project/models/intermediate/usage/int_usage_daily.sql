-- Events collapsed to everything rating needs to tell them apart: customer, day, metric,
-- status and properties. Incremental by usage date: a nightly run rebuilds only the dates the
-- new batches touched (usage_dates_to_rebuild), reading only those folders of the lake.
-- Each group keeps what later aggregations need and can merge across days: the count, the sum,
-- the max, and the last event by (occurred_at, event_id) for `latest` charges.
{{ config(**usage_date_incremental()) }}

-- depends_on: {{ ref('stg_lake__batch_days') }}
{%- set dates = usage_dates_to_rebuild(this) if is_incremental() else none %}

with

events as (
    select event_date, usage_date, customer_id, metric, status, properties, quantity, occurred_at, event_id
    from {{ ref('stg_lake__usage_events') }}
    where {{ date_in('event_date', dates) }}
),

grouped as (
    select
        customer_id,
        usage_date,
        metric,
        coalesce(status, -1) as status_key,
        coalesce(properties, '{}') as properties_key,
        count(*) as events,
        sum(quantity) as quantity,
        max(quantity) as max_quantity,
        {{ max_row(['occurred_at', 'event_id', 'quantity']) }} as latest
    from events
    group by 1, 2, 3, 4, 5
)

select
    customer_id,
    usage_date,
    metric,
    status_key,
    properties_key,
    events,
    quantity,
    max_quantity,
    latest.quantity as latest_quantity,
    latest.occurred_at as latest_occurred_at,
    latest.event_id as latest_event_id
from grouped
