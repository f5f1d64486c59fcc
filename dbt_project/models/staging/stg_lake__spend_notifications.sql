select
    notification_id,
    customer_id,
    period_start,
    period_end,
    kind,
    threshold_pct,
    cast(amount as {{ money_type() }}) as amount,
    cast(budget as {{ money_type() }}) as budget,
    currency,
    as_of,
    sent_at
from {{ source('lake', 'spend_notifications') }}
