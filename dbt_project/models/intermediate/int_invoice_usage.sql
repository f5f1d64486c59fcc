-- Usage per segment and charge, aggregated as the charge says. Every charge of the segment's
-- plan gets a row, with zero usage if none, because some models bill at zero usage.
with

segments as (select * from {{ ref('int_subscription_segments') }}),
charges as (select * from {{ ref('stg_pricing__charges') }}),
usage as (select * from {{ ref('int_usage_charged') }} where charge_id is not null),

usage_by_charge as (
    select
        segment_id,
        charge_id,
        sum(events) as billable_events,
        sum(quantity) as sum_quantity,
        max(max_quantity) as max_quantity
    from usage
    group by 1, 2
),

final as (
    select
        s.segment_id,
        s.customer_id,
        s.period_start,
        s.plan_id,
        s.plan_version,
        c.charge_id,
        c.aggregation,
        coalesce(u.billable_events, 0) as billable_events,
        -- unique_count and latest need event-level data: rated in issue #3 (stubbed as 0).
        cast(case c.aggregation
            when 'sum' then coalesce(u.sum_quantity, 0)
            when 'count' then coalesce(u.billable_events, 0)
            when 'max' then coalesce(u.max_quantity, 0)
            else 0
        end as {{ quantity_type() }}) as units
    from segments as s
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
    left join usage_by_charge as u
        on s.segment_id = u.segment_id
        and c.charge_id = u.charge_id
)

select * from final
