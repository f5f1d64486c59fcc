-- Spend in each customer's latest period, for a customer-facing dashboard, as of the last
-- usage day in the warehouse. spend_to_date is the invoice so far (the draft; the issued
-- invoice once the month is closed). projected_spend prices usage projected to the period's
-- end through the same tiers, packages and minimums (see int_invoice_usage), so a customer
-- about to cross a volume tier or a minimum sees it; for an ended period it is the subtotal.
with

invoices as (select * from {{ ref('fct_invoices') }}),
computed as (select * from {{ ref('int_invoices_computed') }}),
ledger as (select * from {{ ref('fct_credit_ledger') }}),
as_of as (select max(usage_date) as as_of_date from {{ ref('stg_lake__usage_events') }}),

latest as (
    select
        i.*,
        row_number() over (partition by i.customer_id order by i.period_start desc) as recency
    from invoices as i
),

credits as (
    select customer_id, sum(credits) as credits_remaining
    from ledger
    group by 1
),

final as (
    select
        l.customer_id,
        l.period_start,
        l.currency,
        l.subtotal as spend_to_date,
        case
            when l.status = 'issued' then l.subtotal
            else coalesce(c.projected_subtotal, l.subtotal)
        end as projected_spend,
        cast(coalesce(cr.credits_remaining, 0) as {{ quantity_type() }}) as credits_remaining,
        a.as_of_date as as_of
    from latest as l
    cross join as_of as a
    left join computed as c on l.invoice_id = c.invoice_id
    left join credits as cr on l.customer_id = cr.customer_id
    where l.recency = 1
)

select * from final
