select
    invoice_line_id,
    invoice_id,
    customer_id,
    period_start,
    line_type,
    charge_id,
    cast(quantity as {{ quantity_type() }}) as quantity,
    cast(amount as {{ money_type() }}) as amount,
    currency
from {{ source('issued', 'invoice_lines') }}
