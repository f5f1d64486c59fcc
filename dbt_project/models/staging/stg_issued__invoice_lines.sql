select
    invoice_line_id,
    invoice_id,
    customer_id,
    period_start,
    line_type,
    charge_id,
    cast(quantity as {{ quantity_type() }}) as quantity,
    cast(amount as {{ money_type() }}) as amount,
    currency,
    plan_id,
    cast(plan_version as integer) as plan_version
from {{ source('issued', 'invoice_lines') }}
