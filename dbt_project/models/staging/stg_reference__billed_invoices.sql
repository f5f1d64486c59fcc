select
    invoice_id,
    customer_id,
    period_start,
    upper(currency) as currency,
    cast(subtotal as {{ money_type() }}) as subtotal,
    cast(coalesce(credits_applied, 0) as {{ money_type() }}) as credits_applied,
    cast(total as {{ money_type() }}) as total
from {{ source('reference', 'billed_invoices') }}
