-- One invoice per customer and period, as the current data and price book rate it (before
-- carried adjustments: see int_invoices_with_adjustments).
-- credit_rate is that of the plan in force at the period's end (its last segment): credits
-- are applied at close, under the plan the customer is on then. Null = no credits.
with

lines as (select * from {{ ref('int_invoice_lines_rated') }}),
segments as (select * from {{ ref('int_subscription_segments') }}),

last_segment as (
    select
        customer_id,
        period_start,
        credit_rate,
        row_number() over (
            partition by customer_id, period_start order by segment_start desc
        ) as recency
    from segments
),

totals as (
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
),

final as (
    select
        t.*,
        s.credit_rate
    from totals as t
    left join last_segment as s
        on t.customer_id = s.customer_id
        and t.period_start = s.period_start
        and s.recency = 1
)

select * from final
