-- Invoice lines as they stand: issued ones as issued, drafts as computed
-- (int_invoice_lines_current, where every model that needs them reads them).
select * from {{ ref('int_invoice_lines_current') }}
