-- Every price of every charge: its own (price_index 0) and, for a grouped charge, each group
-- price (from 1, in the price book's order; the first that matches a group prices it). A group
-- price holds a whole price (model and that model's fields); what the charge measures
-- (aggregation, bucket) is the charge's.
with

charges as (select * from {{ ref('stg_pricing__charges') }}),

group_prices as (select * from {{ source('pricing', 'charge_group_prices') }})

select
    plan_id,
    plan_version,
    charge_id,
    0 as price_index,
    aggregation,
    bucket,
    model,
    unit_price,
    free_units,
    package_size,
    package_price,
    rate,
    fixed_fee,
    free_events,
    free_amount,
    per_event_min,
    per_event_max,
    rounding
from charges
union all
select
    g.plan_id,
    g.plan_version,
    g.charge_id,
    g.price_index,
    c.aggregation,
    c.bucket,
    g.model,
    g.unit_price,
    g.free_units,
    g.package_size,
    g.package_price,
    g.rate,
    g.fixed_fee,
    g.free_events,
    g.free_amount,
    g.per_event_min,
    g.per_event_max,
    coalesce(g.rounding, 'up') as rounding
from group_prices as g
inner join charges as c
    on g.plan_id = c.plan_id
    and g.plan_version = c.plan_version
    and g.charge_id = c.charge_id
