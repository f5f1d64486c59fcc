-- One discount line per coupon redeemed that takes something off an invoice: the sum of its
-- shares (int_invoice_discount_shares), negative, with its coupon_id. Its tax_rate (what a
-- later correction of it is taxed at) is the highest of the items it took from.
with

shares as (select * from {{ ref('int_invoice_discount_shares') }}),
invoices as (select * from {{ ref('int_invoices_computed') }}),
lines as (select * from {{ ref('int_invoice_lines_rated') }}),

rates as (
    select invoice_id, {{ item_name('line_type', 'charge_id') }} as item, max(tax_rate) as tax_rate
    from lines
    group by 1, 2
),

discounts as (
    select s.invoice_id, s.redemption_id, s.coupon_id, sum(s.share) as amount, max(r.tax_rate) as tax_rate
    from shares as s
    left join rates as r
        on s.invoice_id = r.invoice_id
        and s.item = r.item
    group by 1, 2, 3
),

final as (
    select
        i.invoice_id,
        i.invoice_id || ':discount:' || d.redemption_id as invoice_line_id,
        i.customer_id,
        i.period_start,
        i.period_end,
        cast(null as string) as segment_id,
        cast(null as string) as plan_id,
        cast(null as integer) as plan_version,
        'discount' as line_type,
        cast(null as string) as charge_id,
        cast(null as string) as group_key,
        cast(0 as {{ quantity_type() }}) as quantity,
        cast(d.amount as {{ money_type() }}) as amount,
        cast(d.amount as {{ money_type() }}) as projected_amount,
        i.currency,
        cast(coalesce(d.tax_rate, 0) as decimal(38, 12)) as tax_rate,
        d.coupon_id
    from discounts as d
    inner join invoices as i on d.invoice_id = i.invoice_id
)

select * from final
