-- Adjustments not yet settled: an issued invoice that the current data or price book would
-- bill differently (late usage, a price change), by more than later issued invoices have
-- carried. A warning until the month the adjustment rides on is closed: expected is what has
-- been billed for the charge so far, actual what it should be.
{%- set q = quantity_type() %}
with

adjustments as (select * from {{ ref('fct_invoice_adjustments') }})

select
    'adjustment_pending' as check_name,
    'warning' as severity,
    customer_id,
    period_start,
    invoice_id || ':' || charge_id as subject,
    cast(issued_amount + carried_amount as {{ q }}) as expected,
    cast(recomputed_amount as {{ q }}) as actual,
    cast(pending_amount as {{ q }}) as difference
from adjustments
where pending_amount <> 0
