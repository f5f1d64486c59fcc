-- Every line of every computed invoice: rated lines, the adjustments carried onto it, and the
-- discounts of its coupons. period_days: a rated line's billing period's days (what a fee is
-- prorated over; documents show it). service_period_start/end: the days a rated line is for
-- (its segment's, or a base fee's in advance); null on adjustments and discounts.
with

rated as (select * from {{ ref('int_invoice_lines_rated') }}),
adjustments as (select * from {{ ref('int_adjustment_lines') }}),
discounts as (select * from {{ ref('int_invoice_discount_lines') }}),

final as (
    select
        invoice_id, invoice_line_id, customer_id, period_start, period_end, segment_id,
        plan_id, plan_version, line_type, charge_id, group_key, quantity, amount, projected_amount, currency,
        tax_rate, cast(null as string) as coupon_id, period_days,
        service_period_start, service_period_end
    from rated
    -- A commitment only the projection reaches is not on the invoice (its projected amount
    -- still counts in projected_subtotal, int_invoices_computed).
    where line_type not in ('minimum_true_up', 'spend_cap') or amount <> 0
    union all
    select
        invoice_id, invoice_line_id, customer_id, period_start, period_end, segment_id,
        plan_id, plan_version, line_type, charge_id, group_key, quantity, amount, projected_amount, currency,
        tax_rate, cast(null as string) as coupon_id, cast(null as integer) as period_days,
        cast(null as date) as service_period_start, cast(null as date) as service_period_end
    from adjustments
    union all
    select
        invoice_id, invoice_line_id, customer_id, period_start, period_end, segment_id,
        plan_id, plan_version, line_type, charge_id, group_key, quantity, amount, projected_amount, currency,
        tax_rate, coupon_id, cast(null as integer) as period_days,
        cast(null as date) as service_period_start, cast(null as date) as service_period_end
    from discounts
)

select * from final
