-- One invoice per customer and period, as the current data and price book give it.
with

lines as (select * from {{ ref('int_invoice_lines_rated') }}),

final as (
    select
        invoice_id,
        customer_id,
        period_start,
        max(period_end) as period_end,
        max(currency) as currency,
        cast(sum(amount) as {{ money_type() }}) as subtotal,
        cast(sum(projected_amount) as {{ money_type() }}) as projected_subtotal
    from lines
    group by 1, 2, 3
)

select * from final
