-- The events, one by one, of the metrics a charge priced event by event prices (percentage
-- charges with a free allowance or per-event bounds: what an event pays depends on the events
-- before it and on its own amount). Empty when no charge is priced that way, and then it
-- reads nothing.
-- Incremental by usage date: a date is rebuilt from its events of those metrics when its
-- count differs from the daily aggregate's count of the same metrics.
{%- set by_event = priced_by_event() %}
{{ config(**metric_date_incremental(by_event)) }}

-- depends_on: {{ ref('int_usage_daily') }}
-- depends_on: {{ ref('stg_pricing__charges') }}
{%- set metrics = charge_metrics(by_event) %}
{%- set dates = metric_dates_to_rebuild(this, metrics) if is_incremental() else none %}
{%- if dates is not none %}
-- dates rebuilt: {{ dates | join(', ') or 'none' }}
{%- endif %}

select
    customer_id,
    usage_date,
    metric,
    coalesce(status, -1) as status_key,
    coalesce(properties, '{}') as properties_key,
    event_id,
    occurred_at,
    quantity,
    cast(1 as bigint) as events
from {{ ref('stg_lake__usage_events') }}
where {{ text_in('metric', metrics) }} and {{ date_in('event_date', dates) }}
