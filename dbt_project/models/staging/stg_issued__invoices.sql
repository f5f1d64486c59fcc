select
    invoice_id,
    customer_id,
    period_start,
    period_end,
    currency,
    cast(subtotal as {{ money_type() }}) as subtotal,
    cast(credits_applied as {{ money_type() }}) as credits_applied,
    cast(total as {{ money_type() }}) as total,
    issued_at
from {{ source('issued', 'invoices') }}
