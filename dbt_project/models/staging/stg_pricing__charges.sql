select
    plan_id,
    plan_version,
    charge_id,
    metric,
    aggregation,
    unique_property,
    model,
    unit_price,
    free_units,
    package_size,
    package_price,
    rate,
    fixed_fee,
    coalesce(rounding, 'up') as rounding,
    has_status_filter,
    property_filter_count,
    unit
from {{ source('pricing', 'charges') }}
