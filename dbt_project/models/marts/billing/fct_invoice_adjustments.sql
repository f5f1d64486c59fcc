-- Differences between issued invoices and what the current data and price book give, per
-- invoice, charge and line type (a charge's usage, minimum true-up and spend cap apart), with
-- the reason (see int_invoice_adjustments), what later issued invoices already carried, and
-- the open invoice the rest is pending on.
with

adjustments as (select * from {{ ref('int_invoice_adjustments') }}),
drafts as (select * from {{ ref('int_adjustment_lines') }}),

final as (
    select
        a.invoice_id,
        a.customer_id,
        a.period_start,
        a.charge_id,
        a.line_type,
        a.group_key,
        a.issued_quantity,
        a.recomputed_quantity,
        a.issued_amount,
        a.recomputed_amount,
        a.difference,
        a.reason,
        a.carried_amount,
        a.pending_amount,
        d.invoice_id as pending_on_invoice_id
    from adjustments as a
    left join drafts as d on a.adjustment_key = d.charge_id
)

select * from final
