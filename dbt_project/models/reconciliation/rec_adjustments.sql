-- Adjustments not yet settled: an issued invoice that the current data or price book would
-- bill differently (late usage, a price change), by more than later issued invoices have
-- carried. A warning until the month the adjustment rides on is closed: expected is what has
-- been billed for the charge so far, actual what it should be.
with

adjustments as (select * from {{ ref('fct_invoice_adjustments') }}),

pending as (
    select
        'adjustment_pending' as check_name,
        customer_id,
        period_start,
        {{ adjustment_key('invoice_id', 'charge_id', 'line_type', 'group_key') }} as subject,
        issued_amount + carried_amount as expected,
        recomputed_amount as actual,
        pending_amount
    from adjustments
    where pending_amount <> 0
)

select {{ finding_columns("'warning'", difference='pending_amount') }}
from pending
