-- Events collapsed to everything rating needs to tell them apart: customer, day, metric,
-- status and properties. Each group keeps what later aggregations need and can merge across
-- days and batches: the count, the sum (and so the mean), the max, the min, and the last
-- event by (occurred_at, event_id) for `latest` charges.
-- Incremental by usage date (usage_dates_to_update). A date that only new batches touched
-- since it was built is merged: its groups so far plus the groups of the new batches' events,
-- read alone (a live micro-batch reads its own events, not the whole day again). Any other
-- date where the model and the lake disagree is rebuilt from all its events, the path that
-- heals a crash or a hand edit. folded_through is the commit time of the last batch folded
-- into the date.
{{ config(**usage_date_incremental()) }}

-- depends_on: {{ ref('stg_lake__batch_days') }}
{%- set plan = usage_dates_to_update(this) if is_incremental() else none %}
{%- if plan is not none %}
-- dates rebuilt: {{ plan.rebuild | join(', ') or 'none' }}
-- dates merged: {{ plan.merge | join(', ') or 'none' }}
{%- endif %}

with

events as (
    select usage_date, customer_id, metric, status, properties, quantity, occurred_at, event_id
    from {{ ref('stg_lake__usage_events') }}
    {%- if plan is none %}
    where 1 = 1
    {%- else %}
    where {{ date_in('event_date', plan.rebuild) }}
        or ({{ date_in('event_date', plan.merge) }} and {{ text_in('batch_id', plan.batches) }})
    {%- endif %}
),

-- Every event is a group of one; a merged date's groups so far join them.
partials as (
    select
        customer_id,
        usage_date,
        metric,
        coalesce(status, -1) as status_key,
        coalesce(properties, '{}') as properties_key,
        cast(1 as bigint) as events,
        quantity,
        quantity as max_quantity,
        quantity as min_quantity,
        -- For weighted_sum: the quantity times the whole seconds from its day's start to it.
        cast(
            quantity * ({{ epoch_seconds('occurred_at') }} - {{ date_epoch_seconds('usage_date') }})
            as {{ quantity_type() }}
        ) as quantity_seconds,
        quantity as last_quantity,
        occurred_at as last_occurred_at,
        event_id as last_event_id
    from events
    {%- if plan is not none and plan.merge %}
    union all
    select
        customer_id,
        usage_date,
        metric,
        status_key,
        properties_key,
        events,
        quantity,
        max_quantity,
        min_quantity,
        quantity_seconds,
        latest_quantity as last_quantity,
        latest_occurred_at as last_occurred_at,
        latest_event_id as last_event_id
    from {{ this }}
    where {{ date_in('usage_date', plan.merge) }}
    {%- endif %}
),

grouped as (
    select
        customer_id,
        usage_date,
        metric,
        status_key,
        properties_key,
        cast(sum(events) as bigint) as events,
        sum(quantity) as quantity,
        max(max_quantity) as max_quantity,
        min(min_quantity) as min_quantity,
        sum(quantity_seconds) as quantity_seconds,
        {{ max_row(['last_occurred_at', 'last_event_id', 'last_quantity']) }} as latest
    from partials
    group by 1, 2, 3, 4, 5
),

folded as (
    select event_date as usage_date, max(ingested_at) as folded_through
    from {{ ref('stg_lake__batch_days') }}
    group by 1
)

select
    g.customer_id,
    g.usage_date,
    g.metric,
    g.status_key,
    g.properties_key,
    g.events,
    g.quantity,
    g.max_quantity,
    g.min_quantity,
    g.quantity_seconds,
    g.latest.last_quantity as latest_quantity,
    g.latest.last_occurred_at as latest_occurred_at,
    g.latest.last_event_id as latest_event_id,
    f.folded_through
from grouped as g
left join folded as f on g.usage_date = f.usage_date
