-- The daily event groups with the segment (plan) in force that day. Filter matching then runs
-- on distinct signatures instead of on every event.
with

daily as (select * from {{ ref('int_usage_daily') }}),
segments as (select * from {{ ref('int_subscription_segments') }}),

final as (
    select
        d.customer_id,
        d.usage_date,
        d.metric,
        d.status_key,
        d.properties_key,
        s.segment_id,
        s.plan_id,
        s.plan_version,
        d.events,
        d.quantity,
        d.max_quantity,
        d.latest_quantity,
        d.latest_occurred_at,
        d.latest_event_id
    from daily as d
    left join segments as s
        on d.customer_id = s.customer_id
        and d.usage_date >= s.segment_start
        and d.usage_date < s.segment_end
)

select * from final
