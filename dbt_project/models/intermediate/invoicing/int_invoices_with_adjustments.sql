-- Computed invoices with the adjustments carried onto them (int_adjustment_lines) and their
-- tax (the sum of their items' taxes, int_invoice_items): what a draft shows and what month
-- close issues. Kept apart from int_invoices_computed because the
-- carried adjustments depend on the issued store, which month close writes from the computed
-- invoices.
with

invoices as (select * from {{ ref('int_invoices_computed') }}),
adjustments as (select * from {{ ref('int_adjustment_lines') }}),
discount_lines as (select * from {{ ref('int_invoice_discount_lines') }}),
items as (select * from {{ ref('int_invoice_items') }}),

taxes as (
    select invoice_id, sum(tax) as tax
    from items
    group by 1
),

carried as (
    select invoice_id, sum(amount) as amount
    from adjustments
    group by 1
),

discounts as (
    select invoice_id, sum(amount) as amount
    from discount_lines
    group by 1
),

final as (
    select
        i.invoice_id,
        i.customer_id,
        i.period_start,
        i.period_end,
        i.currency,
        cast(i.subtotal + coalesce(c.amount, 0) + coalesce(d.amount, 0) as {{ money_type() }}) as subtotal,
        cast(coalesce(d.amount, 0) as {{ money_type() }}) as discounts,
        cast(coalesce(t.tax, 0) as {{ money_type() }}) as tax,
        cast(i.projected_subtotal + coalesce(c.amount, 0) + coalesce(d.amount, 0) as {{ money_type() }})
            as projected_subtotal,
        i.credit_rate
    from invoices as i
    left join carried as c on i.invoice_id = c.invoice_id
    left join discounts as d on i.invoice_id = d.invoice_id
    left join taxes as t on i.invoice_id = t.invoice_id
)

select * from final
