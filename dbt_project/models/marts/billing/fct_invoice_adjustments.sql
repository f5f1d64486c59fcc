-- Differences between issued invoices and what the current data and price book give, per
-- invoice and charge, with the reason (see int_invoice_adjustments), what later issued
-- invoices already carried, and what is pending on the next open invoice.
with

adjustments as (select * from {{ ref('int_invoice_adjustments') }}),
issued_lines as (select * from {{ ref('stg_issued__invoice_lines') }}),
drafts as (select * from {{ ref('int_adjustment_lines') }}),

carried as (
    select charge_id as adjustment_key, sum(amount) as amount
    from issued_lines
    where line_type = 'adjustment'
    group by 1
),

final as (
    select
        a.invoice_id,
        a.customer_id,
        a.period_start,
        a.charge_id,
        a.issued_quantity,
        a.recomputed_quantity,
        a.issued_amount,
        a.recomputed_amount,
        a.difference,
        a.reason,
        cast(coalesce(c.amount, 0) as {{ money_type() }}) as carried_amount,
        cast(a.difference - coalesce(c.amount, 0) as {{ money_type() }}) as pending_amount,
        d.invoice_id as pending_on_invoice_id
    from adjustments as a
    left join carried as c on a.invoice_id || ':' || a.charge_id = c.adjustment_key
    left join drafts as d on a.invoice_id || ':' || a.charge_id = d.charge_id
)

select * from final
