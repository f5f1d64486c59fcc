select
    coupon_id,
    kind,
    percent,
    amount,
    currency,
    duration_months,
    limited,
    order_class
from {{ source('pricing', 'coupons') }}
