-- Percentage charges priced event by event (a free allowance or per-event bounds), per segment,
-- charge and group (at the group's price): the exact sum of what each event pays, in (occurred_at, event_id) order.
--   While the free allowance lasts (fewer than free_events free events so far, and the
--   running sum below free_amount), an event that keeps the running sum strictly below
--   free_amount is free; the event that reaches or crosses it pays the rate on its part past
--   free_amount and the fixed fee, and ends the allowance. Every later event pays on its whole
--   amount: amount x rate + fixed_fee, raised to per_event_min, lowered to per_event_max.
--   No amount at all (the events sum to 0): nothing, not a fixed fee per event.
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

segments as (
    select *
    from {{ ref('int_subscription_segments') }}
    where {{ period_in('period_start', periods) }}
),

by_event as (select * from {{ ref('stg_pricing__charge_prices') }} where {{ priced_by_event() }}),
matched as (select * from {{ ref('int_charge_signatures_matched') }}),
fingerprints as (select * from {{ ref('int_period_fingerprints') }}),

events as (
    select
        s.segment_id,
        s.period_start,
        c.charge_id,
        coalesce(m.group_key, '') as group_id,
        c.rate,
        c.fixed_fee,
        c.free_events,
        c.free_amount,
        c.per_event_min,
        c.per_event_max,
        e.quantity,
        row_number() over (
            partition by s.segment_id, c.charge_id, m.group_key order by e.occurred_at, e.event_id
        ) as position,
        sum(e.quantity) over (
            partition by s.segment_id, c.charge_id, m.group_key order by e.occurred_at, e.event_id
            rows between unbounded preceding and current row
        ) as running
    from {{ ref('int_usage_priced_events') }} as e
    {{ join_segment_charge('e') }}
    inner join by_event as c
        on m.plan_id = c.plan_id
        and m.plan_version = c.plan_version
        and m.charge_id = c.charge_id
        and m.price_index = c.price_index
    where {{ date_in_periods('e.usage_date', periods) }}
),

-- What each event is billed on: nothing while free, the part past free_amount for the event
-- that ends the allowance, its whole amount after. (Every event before one the allowance still
-- covers was free, so "the running sum before it is below free_amount" says it all.)
billed as (
    select
        *,
        case
            when (free_events is not null or free_amount is not null)
                and (free_events is null or position <= free_events)
                and (free_amount is null or running - quantity < free_amount)
                then case
                    when free_amount is null or running < free_amount then null
                    else running - free_amount
                end
            else quantity
        end as billed_quantity
    from events
),

gross as (
    select *, billed_quantity * rate + fixed_fee as gross_fee
    from billed
),

-- Raised to the minimum, lowered to the maximum (the price book keeps minimum <= maximum).
fees as (
    select
        segment_id,
        period_start,
        charge_id,
        group_id,
        quantity,
        case
            when billed_quantity is null then 0
            when gross_fee < per_event_min then per_event_min
            when gross_fee > per_event_max then per_event_max
            else gross_fee
        end as fee
    from gross
),

final as (
    select
        segment_id,
        charge_id,
        nullif(group_id, '') as group_key,
        period_start,
        case when sum(quantity) = 0 then 0 else sum(fee) end as raw_amount,
        cast(count(*) as bigint) as billable_events
    from fees
    group by segment_id, charge_id, group_id, period_start
)

select final.*, f.fingerprint as rated_with
from final
left join fingerprints as f on final.period_start = f.period_start
