-- Usage per segment and charge, aggregated as the charge says. Every charge of the segment's
-- plan gets a row, with zero usage if none, because some models bill at zero usage.
--   sum / count / max / min   from the event groups
--   avg                 the sum over the count of billable events (9 decimals, half-up)
--   weighted_sum        the level's integral over the segment (quantities are changes at
--                       their instants, to the second), over the billing period's seconds
--   unique_count        distinct non-null values of one property; properties are part of the
--                       group key, so the groups hold every distinct value
--   latest              quantity of the last billable event by occurred_at (ties: the
--                       highest event_id): the latest of the groups' own latest events
-- Also the usage projected to the end of the segment, for spend dashboards: sums and counts
-- scale by the segment's length over the time elapsed in it, in seconds up to "as of" (the
-- latest event, stg_lake__as_of); max, min, avg, unique_count and latest are levels, not
-- flows, and stay as they are.
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

segments as (
    select *
    from {{ ref('int_subscription_segments') }}
    where {{ date_in_periods('period_start', periods) }}
),

charges as (select * from {{ ref('stg_pricing__charges') }}),

usage as (
    select *
    from {{ ref('int_usage_charged') }}
    where charge_id is not null and {{ date_in_periods('usage_date', periods) }}
),

matched as (select * from {{ ref('int_charge_signatures_matched') }}),

groups as (
    select *
    from {{ ref('int_usage_event_groups') }}
    where {{ date_in_periods('usage_date', periods) }}
),

fingerprints as (select * from {{ ref('int_period_fingerprints') }}),
as_of as (select * from {{ ref('stg_lake__as_of') }}),

usage_by_charge as (
    select
        u.segment_id,
        u.charge_id,
        sum(u.events) as billable_events,
        sum(u.quantity) as sum_quantity,
        -- weighted_sum: the level's integral to the segment's end, in units x seconds. Each
        -- day's quantities hold from their instants: sum x (end - day start) - quantity_seconds.
        sum(
            u.quantity * ({{ date_epoch_seconds('s.segment_end') }} - {{ date_epoch_seconds('u.usage_date') }})
            - u.quantity_seconds
        ) as level_seconds,
        max(u.max_quantity) as max_quantity,
        min(u.min_quantity) as min_quantity,
        count(distinct {{ json_get('u.properties_key', 'c.unique_property') }}) as unique_values
    from usage as u
    inner join charges as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    inner join segments as s on u.segment_id = s.segment_id
    group by 1, 2
),

latest_charges as (
    select m.*
    from matched as m
    inner join charges as c
        on m.plan_id = c.plan_id
        and m.plan_version = c.plan_version
        and m.charge_id = c.charge_id
    where c.aggregation = 'latest'
),

latest_ranked as (
    select
        g.segment_id,
        lc.charge_id,
        g.latest_quantity as quantity,
        row_number() over (
            partition by g.segment_id, lc.charge_id
            order by g.latest_occurred_at desc, g.latest_event_id desc
        ) as recency
    from groups as g
    inner join latest_charges as lc
        on g.plan_id = lc.plan_id
        and g.plan_version = lc.plan_version
        and g.metric = lc.metric
        and g.status_key = lc.status_key
        and g.properties_key = lc.properties_key
),

latest_usage as (
    select segment_id, charge_id, quantity as latest_quantity
    from latest_ranked
    where recency = 1
),

measured as (
    select
        s.segment_id,
        s.customer_id,
        s.period_start,
        s.plan_id,
        s.plan_version,
        c.charge_id,
        c.aggregation,
        coalesce(u.billable_events, 0) as billable_events,
        -- A weighted_sum level that ended below zero: priced as 0 (finding negative_level).
        coalesce(c.aggregation = 'weighted_sum' and u.level_seconds < 0, false) as level_below_zero,
        -- Each branch is cast on its own so that no engine's CASE type unification can
        -- change the scale of a fractional quantity.
        case c.aggregation
            when 'sum' then cast(coalesce(u.sum_quantity, 0) as {{ quantity_type() }})
            when 'count' then cast(coalesce(u.billable_events, 0) as {{ quantity_type() }})
            when 'max' then cast(coalesce(u.max_quantity, 0) as {{ quantity_type() }})
            when 'min' then cast(coalesce(u.min_quantity, 0) as {{ quantity_type() }})
            when 'weighted_sum' then cast(coalesce(
                {{ scale_quantity('greatest(u.level_seconds, 0)', '1', '86400 * s.period_days') }}, 0
            ) as {{ quantity_type() }})
            when 'avg' then cast(coalesce(
                {{ scale_quantity('u.sum_quantity', '1', 'u.billable_events') }}, 0
            ) as {{ quantity_type() }})
            when 'unique_count' then cast(coalesce(u.unique_values, 0) as {{ quantity_type() }})
            -- floored at 0: a signed metric's last value may be negative (bills 0)
            when 'latest' then cast(greatest(coalesce(lu.latest_quantity, 0), 0) as {{ quantity_type() }})
        end as units,
        86400 * s.segment_days as segment_seconds,
        a.as_of_epoch_seconds - {{ date_epoch_seconds('s.segment_start') }} as seconds_since_start
    from segments as s
    cross join as_of as a
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
    left join usage_by_charge as u
        on s.segment_id = u.segment_id
        and c.charge_id = u.charge_id
    left join latest_usage as lu
        on s.segment_id = lu.segment_id
        and c.charge_id = lu.charge_id
),

-- Time of the segment with data so far, in seconds: none before it starts, all of it once it
-- has ended (or while there is no usage data at all), and never less than an hour in between:
-- a few minutes' usage would otherwise project to thousands of times itself.
elapsed as (
    select
        *,
        case
            when seconds_since_start is null or seconds_since_start >= segment_seconds
                then segment_seconds
            when seconds_since_start <= 0 then 0
            when seconds_since_start < 3600 then 3600
            else seconds_since_start
        end as elapsed_seconds
    from measured
),

final as (
    select
        segment_id,
        customer_id,
        period_start,
        plan_id,
        plan_version,
        charge_id,
        aggregation,
        billable_events,
        level_below_zero,
        units,
        case
            when aggregation not in ('sum', 'count') or elapsed_seconds in (0, segment_seconds)
                then units
            else {{ scale_quantity('units', 'segment_seconds', 'elapsed_seconds') }}
        end as projected_units,
        case
            when elapsed_seconds in (0, segment_seconds)
                then cast(billable_events as {{ quantity_type() }})
            else {{ scale_quantity('billable_events', 'segment_seconds', 'elapsed_seconds') }}
        end as projected_billable_events
    from elapsed
)

select
    final.*,
    f.fingerprint as rated_with
from final
left join fingerprints as f on final.period_start = f.period_start
