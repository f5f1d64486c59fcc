select
    plan_id,
    plan_version,
    charge_id,
    price_index,
    tier_index,
    lower_bound,
    up_to,
    unit_price,
    package_size,
    package_price,
    rate,
    flat_fee
from {{ source('pricing', 'charge_tiers') }}
