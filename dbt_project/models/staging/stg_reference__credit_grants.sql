select
    grant_id,
    customer_id,
    granted_at,
    cast(credits as {{ quantity_type() }}) as credits,
    kind,
    cast(purchase_amount as {{ money_type() }}) as purchase_amount,
    expires_at,
    priority,
    -- the items the grant may pay, `;`-separated (null: anything); see grant_may_pay
    applies_to,
    -- a recurring row (monthly, quarterly, yearly) yields instances: int_credit_grants
    recurrence,
    recurrence_ends_at,
    cast(rollover_cap as {{ quantity_type() }}) as rollover_cap
from {{ source('reference', 'credit_grants') }}
