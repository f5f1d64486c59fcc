select
    subscription_id,
    customer_id,
    plan_id,
    started_at,
    ended_at
from {{ source('reference', 'subscriptions') }}
