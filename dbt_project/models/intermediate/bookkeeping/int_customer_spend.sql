-- Spend in each customer's latest period, for a customer-facing dashboard, as of the latest
-- event in the warehouse (stg_lake__as_of). spend_to_date is the invoice so far (the draft; the issued
-- invoice once the month is closed). projected_spend prices usage projected to the period's
-- end through the same tiers, packages and minimums (see int_invoice_usage), so a customer
-- about to cross a volume tier or a minimum sees it; for an ended period it is the subtotal.
-- credits_remaining: credits that can still pay the open period (granted by the as-of day and
-- not expiring before that period ends, the rule close applies), less what closed months
-- drew; the open period is the latest one, or the month after it once it is issued.
-- credits_remaining_value is their money value under the period's plan (0 if it takes no
-- credits), and credits_to_apply what this period's close would draw (the draft estimate).
-- period_months: the months of the invoice's period (1, 3 or 12: its billing interval's, or 1
-- when usage is invoiced monthly; of the plan of its last segment): a monthly budget is that
-- many times the period's.
with

invoices as (select * from {{ ref('int_invoices_current') }}),
computed as (select * from {{ ref('int_invoices_with_adjustments') }}),
grants as (select * from {{ ref('int_credit_grants') }}),
consumption as (select * from {{ ref('stg_issued__credit_consumption') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
as_of as (select * from {{ ref('stg_lake__as_of') }}),
segments as (select * from {{ ref('int_subscription_segments') }}),

interval_months as (
    select customer_id, period_start, billing_months
    from (
        select
            customer_id,
            period_start,
            coalesce(invoice_months, billing_months) as billing_months,
            row_number() over (
                partition by customer_id, period_start order by segment_start desc
            ) as recency
        from segments
    ) as s
    where recency = 1
),

latest as (
    select
        i.*,
        row_number() over (partition by i.customer_id order by i.period_start desc) as recency
    from invoices as i
),

consumed as (
    select grant_id, sum(credits) as credits
    from consumption
    group by 1
),

open_periods as (
    select
        customer_id,
        case
            when status = 'issued' then cast({{ dbt.dateadd('month', 1, 'period_end') }} as date)
            else period_end
        end as open_period_end
    from latest
    where recency = 1
),

credits as (
    select
        g.customer_id,
        sum(g.credits + g.rolled_in - g.settled_out - coalesce(u.credits, 0)) as credits_remaining
    from grants as g
    inner join open_periods as o on g.customer_id = o.customer_id
    cross join as_of as a
    left join consumed as u on g.grant_id = u.grant_id
    where g.granted_at <= a.as_of_date
        and (g.expires_at is null
            or (g.expires_at > a.as_of_date and g.expires_at >= o.open_period_end))
    group by 1
),

final as (
    select
        l.customer_id,
        l.period_start,
        l.period_end,
        cast(coalesce(m.billing_months, 1) as integer) as period_months,
        l.currency,
        l.subtotal as spend_to_date,
        case
            when l.status = 'issued' then l.subtotal
            else coalesce(c.projected_subtotal, l.subtotal)
        end as projected_spend,
        cast(coalesce(cr.credits_remaining, 0) as {{ quantity_type() }}) as credits_remaining,
        cast(coalesce(
            {{ round_money('cr.credits_remaining * c.credit_rate', 'cu.minor_units') }}, 0
        ) as {{ money_type() }}) as credits_remaining_value,
        case when l.status = 'draft' then l.credits_applied else 0 end as credits_to_apply,
        a.as_of_date as as_of,
        a.as_of_at
    from latest as l
    cross join as_of as a
    inner join currencies as cu on l.currency = cu.currency
    left join computed as c on l.invoice_id = c.invoice_id
    left join credits as cr on l.customer_id = cr.customer_id
    left join interval_months as m
        on l.customer_id = m.customer_id
        and l.period_start = m.period_start
    where l.recency = 1
)

select * from final
