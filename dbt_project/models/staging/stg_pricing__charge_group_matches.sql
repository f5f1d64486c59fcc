select
    plan_id,
    plan_version,
    charge_id,
    price_index,
    property_key,
    property_value
from {{ source('pricing', 'charge_group_matches') }}
