-- Every line of every computed invoice: rated lines plus the adjustments carried onto it.
with

rated as (select * from {{ ref('int_invoice_lines_rated') }}),
adjustments as (select * from {{ ref('int_adjustment_lines') }}),

final as (
    select
        invoice_id, invoice_line_id, customer_id, period_start, period_end, segment_id,
        plan_id, plan_version, line_type, charge_id, quantity, amount, projected_amount, currency
    from rated
    union all
    select
        invoice_id, invoice_line_id, customer_id, period_start, period_end, segment_id,
        plan_id, plan_version, line_type, charge_id, quantity, amount, projected_amount, currency
    from adjustments
)

select * from final
