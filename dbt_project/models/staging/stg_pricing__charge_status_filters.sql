select
    plan_id,
    plan_version,
    charge_id,
    status_from,
    status_to
from {{ source('pricing', 'charge_status_filters') }}
