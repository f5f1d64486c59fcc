-- Events of the metrics an hourly-bucketed charge prices, collapsed per UTC hour: customer,
-- day, hour, metric, status and properties, with what a bucket needs (count, sum, max).
-- Empty when no charge buckets by the hour, and then it reads nothing.
-- Incremental by usage date: a date is rebuilt from its events of those metrics when its
-- count differs from the daily aggregate's count of the same metrics (new events, a price
-- book that buckets another metric by the hour, a crash, a hand edit).
{{ config(**metric_date_incremental("bucket = 'hour'")) }}

-- depends_on: {{ ref('int_usage_daily') }}
-- depends_on: {{ ref('stg_pricing__charges') }}
{%- set metrics = charge_metrics("bucket = 'hour'") %}
{%- set dates = metric_dates_to_rebuild(this, metrics) if is_incremental() else none %}
{%- if dates is not none %}
-- dates rebuilt: {{ dates | join(', ') or 'none' }}
{%- endif %}

with

events as (
    select usage_date, customer_id, metric, status, properties, quantity, occurred_at
    from {{ ref('stg_lake__usage_events') }}
    where {{ text_in('metric', metrics) }} and {{ date_in('event_date', dates) }}
)

select
    customer_id,
    usage_date,
    cast({{ int_div(epoch_seconds('occurred_at') ~ ' - ' ~ date_epoch_seconds('usage_date'), '3600') }} as int) as usage_hour,
    metric,
    coalesce(status, -1) as status_key,
    coalesce(properties, '{}') as properties_key,
    cast(count(*) as bigint) as events,
    sum(quantity) as quantity,
    max(quantity) as max_quantity
from events
group by 1, 2, 3, 4, 5, 6
