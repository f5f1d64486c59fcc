select
    currency,
    minor_units
from {{ source('reference', 'currencies') }}
