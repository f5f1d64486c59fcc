select
    plan_id,
    plan_version,
    charge_id,
    property_key,
    property_value
from {{ source('pricing', 'charge_property_filters') }}
