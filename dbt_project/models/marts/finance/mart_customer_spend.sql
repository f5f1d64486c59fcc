-- Spend to date in each customer's latest period, for a customer-facing dashboard.
-- Projection: spend so far scaled to the whole period by days elapsed (as of the last usage day).
with

invoices as (select * from {{ ref('fct_invoices') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
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
            when a.as_of_date >= l.period_end or a.as_of_date < l.period_start then l.subtotal
            else cast({{ prorate_money(
                'l.subtotal',
                days_between('l.period_start', 'l.period_end'),
                days_between('l.period_start', 'a.as_of_date') ~ ' + 1',
                'c.minor_units'
            ) }} as {{ money_type() }})
        end as projected_spend,
        cast(coalesce(cr.credits_remaining, 0) as {{ quantity_type() }}) as credits_remaining,
        a.as_of_date as as_of
    from latest as l
    cross join as_of as a
    inner join currencies as c on l.currency = c.currency
    left join credits as cr on l.customer_id = cr.customer_id
    where l.recency = 1
)

select * from final
