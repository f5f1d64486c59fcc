-- Events collapsed to everything rating needs to tell them apart: customer, day, metric,
-- status and properties, with the segment (plan) in force that day. Filter matching then runs
-- on distinct signatures instead of on every event.
with

events as (select * from {{ ref('stg_lake__usage_events') }}),
segments as (select * from {{ ref('int_subscription_segments') }}),

grouped as (
    select
        e.customer_id,
        e.usage_date,
        e.metric,
        coalesce(e.status, -1) as status_key,
        coalesce(e.properties, '{}') as properties_key,
        s.segment_id,
        s.plan_id,
        s.plan_version,
        count(*) as events,
        sum(e.quantity) as quantity,
        max(e.quantity) as max_quantity
    from events as e
    left join segments as s
        on e.customer_id = s.customer_id
        and e.usage_date >= s.segment_start
        and e.usage_date < s.segment_end
    group by 1, 2, 3, 4, 5, 6, 7, 8
)

select * from grouped
