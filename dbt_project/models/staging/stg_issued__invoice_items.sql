-- Items of issued invoices (after their coupons, with their taxes), frozen at month close.
-- Months issued before items were frozen have none: their items are made from their lines.
select
    invoice_id,
    customer_id,
    period_start,
    item,
    cast(item_order as integer) as item_order,
    cast(amount as {{ money_type() }}) as amount,
    cast(tax_rate as decimal(38, 12)) as tax_rate,
    cast(tax as {{ money_type() }}) as tax,
    currency,
    -- what credits paid of the item (null: issued before credits were recorded per item)
    cast(credits_applied as {{ money_type() }}) as credits_applied
from {{ source('issued', 'invoice_items') }}
-- A close is committed when its invoices file is written: parts of a close that crashed
-- before it are not part of any issued invoice, whatever is left on disk.
where invoice_id in (select invoice_id from {{ source('issued', 'invoices') }})
