-- Bucketed charges (bucket: hour | day): per segment and charge, the max or sum of each UTC
-- bucket with events, each bucket priced on its own by the charge's model (tiers, free units
-- and packages restart in every bucket). One row per segment and charge: the sum of the bucket
-- values (the line's quantity), the exact sum of their prices (rounded once, on the invoice
-- line) and how many buckets had events; per group for a grouped charge, at the group's price. Day buckets come from the daily event groups, hour
-- buckets from the hourly aggregate.
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

segments as (
    select *
    from {{ ref('int_subscription_segments') }}
    where {{ period_in('period_start', periods) }}
),

bucketed as (select * from {{ ref('stg_pricing__charges') }} where bucket is not null),
bucketed_prices as (select * from {{ ref('stg_pricing__charge_prices') }} where bucket is not null),
tiers as (select * from {{ ref('stg_pricing__charge_tiers') }}),
matched as (select * from {{ ref('int_charge_signatures_matched') }}),
fingerprints as (select * from {{ ref('int_period_fingerprints') }}),

day_groups as (
    select
        u.segment_id,
        u.plan_id,
        u.plan_version,
        u.charge_id,
        coalesce(u.group_key, '') as group_id,
        coalesce(u.price_index, 0) as price_index,
        c.aggregation,
        cast(u.usage_date as {{ dbt.type_string() }}) as bucket,
        u.events,
        u.quantity,
        u.max_quantity
    from {{ ref('int_usage_charged') }} as u
    inner join bucketed as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    where c.bucket = 'day' and {{ date_in_periods('u.usage_date', periods) }}
),

hour_groups as (
    select
        s.segment_id,
        s.plan_id,
        s.plan_version,
        c.charge_id,
        coalesce(m.group_key, '') as group_id,
        m.price_index,
        c.aggregation,
        cast(h.usage_date as {{ dbt.type_string() }}) || ' ' || cast(h.usage_hour as {{ dbt.type_string() }}) as bucket,
        h.events,
        h.quantity,
        h.max_quantity
    from {{ ref('int_usage_hourly') }} as h
    {{ join_segment_charge('h') }}
    inner join bucketed as c
        on m.plan_id = c.plan_id
        and m.plan_version = c.plan_version
        and m.charge_id = c.charge_id
    where c.bucket = 'hour' and {{ date_in_periods('h.usage_date', periods) }}
),

buckets as (
    select
        segment_id,
        plan_id,
        plan_version,
        charge_id,
        group_id,
        price_index,
        bucket,
        cast(case max(aggregation)
            when 'max' then max(max_quantity)
            else sum(quantity)
        end as {{ quantity_type() }}) as units,
        sum(events) as billable_events
    from (
        select * from day_groups
        union all
        select * from hour_groups
    ) as g
    group by 1, 2, 3, 4, 5, 6, 7
),

priced as ({{ price_usage('buckets', 'bucketed_prices', 'tiers', keys=['group_id', 'bucket']) }}),

final as (
    select
        b.segment_id,
        b.charge_id,
        nullif(b.group_id, '') as group_key,
        s.period_start,
        sum(b.units) as units,
        sum(b.billable_events) as billable_events,
        sum(p.raw_amount) as raw_amount,
        count(*) as buckets
    from buckets as b
    inner join priced as p
        on b.segment_id = p.segment_id
        and b.charge_id = p.charge_id
        and b.group_id = p.group_id
        and b.bucket = p.bucket
    inner join segments as s on b.segment_id = s.segment_id
    group by 1, 2, 3, 4
)

select final.*, f.fingerprint as rated_with
from final
left join fingerprints as f on final.period_start = f.period_start
