-- Pending adjustments carried as lines on each customer's next open invoice (the earliest
-- period after the adjusted one that is not issued yet). What a later issued invoice already
-- carried is not carried again; if the adjustment grows (more late usage), only the rest is.
-- A positive line is a debit, a negative one a credit note. One line per adjusted invoice,
-- charge and line type: charge_id is the adjustment's key, e.g. 'INV-2026-09-cus_0001:api_calls'
-- (usage) or 'INV-2026-09-cus_0001:api_calls:spend_cap' (adjustment_key in macros/invoicing.sql).
with

adjustments as (select * from {{ ref('int_invoice_adjustments') }}),
issued_invoices as (select * from {{ ref('stg_issued__invoices') }}),
rated as (select * from {{ ref('int_invoice_lines_rated') }}),

pending as (
    select
        adjustment_key,
        customer_id,
        period_start as adjusted_period,
        pending_amount as amount,
        tax_rate
    from adjustments
),

open_invoices as (
    select distinct invoice_id, customer_id, period_start, period_end, currency
    from rated
    where invoice_id not in (select invoice_id from issued_invoices)
),

targets as (
    select
        p.adjustment_key,
        p.amount,
        p.tax_rate,
        o.invoice_id,
        o.customer_id,
        o.period_start,
        o.period_end,
        o.currency,
        row_number() over (partition by p.adjustment_key order by o.period_start) as nearest
    from pending as p
    inner join open_invoices as o
        on p.customer_id = o.customer_id
        and o.period_start > p.adjusted_period
    where p.amount <> 0
),

final as (
    select
        invoice_id,
        invoice_id || ':adjustment:' || adjustment_key as invoice_line_id,
        customer_id,
        period_start,
        period_end,
        cast(null as string) as segment_id,
        cast(null as string) as plan_id,
        cast(null as integer) as plan_version,
        'adjustment' as line_type,
        adjustment_key as charge_id,
        cast(null as string) as group_key,
        cast(0 as {{ quantity_type() }}) as quantity,
        cast(amount as {{ money_type() }}) as amount,
        cast(amount as {{ money_type() }}) as projected_amount,
        currency,
        tax_rate
    from targets
    where nearest = 1
)

select * from final
