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
    applies_to
from {{ source('reference', 'credit_grants') }}
