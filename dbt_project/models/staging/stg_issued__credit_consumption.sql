-- Credits applied at month close, one row per grant drawn for an issued invoice.
select
    entry_id,
    grant_id,
    customer_id,
    invoice_id,
    period_start,
    entry_date,
    cast(credits as {{ quantity_type() }}) as credits,
    cast(money as {{ money_type() }}) as money,
    cast(revenue as {{ money_type() }}) as revenue,
    cast(discount as {{ money_type() }}) as discount,
    -- what the draw paid of the invoice's tax; closes before taxes wrote neither column
    cast(coalesce(tax_money, 0) as {{ money_type() }}) as tax_money,
    cast(coalesce(deferred_to_tax, 0) as {{ money_type() }}) as deferred_to_tax
from {{ source('issued', 'credit_consumption') }}
-- A close is committed when its invoices file is written: parts of a close that crashed
-- before it are not part of any issued invoice, whatever is left on disk.
where invoice_id in (select invoice_id from {{ source('issued', 'invoices') }})
