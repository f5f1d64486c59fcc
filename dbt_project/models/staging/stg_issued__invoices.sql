select
    invoice_id,
    invoice_number,
    credit_note_number,
    customer_id,
    customer_name,
    period_start,
    period_end,
    currency,
    cast(subtotal as {{ money_type() }}) as subtotal,
    -- invoices issued before taxes had none
    cast(coalesce(tax, 0) as {{ money_type() }}) as tax,
    cast(credits_applied as {{ money_type() }}) as credits_applied,
    cast(total as {{ money_type() }}) as total,
    issued_at,
    due_date
from {{ source('issued', 'invoices') }}
