-- Invoice lines: as issued for closed periods (never recomputed), as computed for open ones.
-- marts.fct_invoice_lines shows them as they are; fct_invoice_items reads them here.
with

issued_invoices as (select * from {{ ref('stg_issued__invoices') }}),
issued_lines as (select * from {{ ref('stg_issued__invoice_lines') }}),
computed_lines as (select * from {{ ref('int_invoice_lines') }}),

issued as (
    select
        invoice_line_id, invoice_id, customer_id, period_start, line_type, charge_id, group_key,
        quantity, amount, currency, tax_rate, coupon_id, service_period_start,
        service_period_end, 'issued' as invoice_status
    from issued_lines
),

drafts as (
    select
        invoice_line_id, invoice_id, customer_id, period_start, line_type, charge_id, group_key,
        quantity, amount, currency, tax_rate, coupon_id, service_period_start,
        service_period_end, 'draft' as invoice_status
    from computed_lines
    where invoice_id not in (select invoice_id from issued_invoices)
),

final as (
    select * from issued
    union all
    select * from drafts
)

select * from final
