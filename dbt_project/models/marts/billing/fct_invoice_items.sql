-- Each invoice as items, with each item's tax (int_invoice_items, where the invoices read
-- their tax).
select * from {{ ref('int_invoice_items') }}
