select
    coupon_id,
    target
from {{ source('pricing', 'coupon_targets') }}
