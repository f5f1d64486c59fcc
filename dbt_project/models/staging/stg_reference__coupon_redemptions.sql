select
    redemption_id,
    customer_id,
    coupon_id,
    redeemed_on
from {{ source('reference', 'coupon_redemptions') }}
