-- One invoice per customer and period, as it stands: issued, or the current draft
-- (int_invoices_current, where every model that needs invoices reads them).
select * from {{ ref('int_invoices_current') }}
