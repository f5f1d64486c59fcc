-- Revenue per customer and month, ASC 606 style, from issued invoices and the
-- credit ledger. An issued invoice's figures belong to the months of the days its lines are
-- for (their service periods), by days and amounts: a quarter's invoice to its three months,
-- an anniversary month's to the two calendar months it spans, a base fee paid in advance to
-- the months of the period it pays for (later months hold revenue scheduled by fees already
-- billed). They are allocated to the cent as discounts and tax are over
-- items: each month's exact share cut toward zero, the cents still missing to the largest
-- remainders, ties to the earlier month.
--   billed_revenue        cash-billed revenue of issued invoices in the month: what the
--                         customer pays for the service, total - tax + the credits that paid
--                         tax (credits pay the subtotal first); tax is never revenue
--   discounts             the coupons of issued invoices in the month (0 or negative):
--                         contra-revenue, already out of billed_revenue
--   tax_billed            the tax of issued invoices in the month
--   credits_applied_to_tax  the part of credits applied that paid tax
--   credit_revenue        purchased credits consumed, at their cost basis
--   breakage_revenue      purchased balances that expired in the month
--   promotional_discount  money paid by promotional credits for the service (a discount)
--   promotional_tax       money paid by promotional credits for tax (an expense, not a discount)
--   deferred_to_tax       purchased credits' cost basis that paid tax: out of deferred revenue
--                         into tax payable, never revenue
--   deferred_*            unconsumed purchased credits: opening + purchases - credit_revenue
--                         - breakage_revenue - deferred_to_tax = closing, and closing is next
--                         month's opening
{%- set zero = 'cast(0 as ' ~ money_type() ~ ')' %}
with

invoices as (select * from {{ ref('int_invoices_current') }} where status = 'issued'),
ledger as (select * from {{ ref('int_credit_ledger') }}),
grants as (select * from {{ ref('int_credit_grants') }}),
customers as (select * from {{ ref('stg_reference__customers') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
segments as (select * from {{ ref('int_subscription_segments') }}),

lines as (select * from {{ ref('int_invoice_lines_current') }} where invoice_status = 'issued'),

-- What each issued invoice's figures are for: each line that adds to it (positive) over the
-- days of its service period, weighed by its amount (a base fee paid in advance for next
-- year is next year's revenue, day by day); an invoice issued before lines had service
-- periods, its subscriptions' segments (a partial period serves only the days subscribed) or
-- its whole period, weighed by days. Negative lines (a spend cap, the unused days of a period
-- paid in advance credited) lower the months of the rest.
with_service as (
    select distinct invoice_id
    from lines
    where amount > 0 and service_period_start is not null
),

served as (
    select
        l.invoice_id,
        cast(l.amount * 10000 as {{ whole_type() }}) as weight,
        l.service_period_start as served_from,
        l.service_period_end as served_to
    from lines as l
    where l.amount > 0 and l.service_period_start is not null
    union all
    select i.invoice_id, cast(null as {{ whole_type() }}), s.segment_start, s.segment_end
    from invoices as i
    inner join segments as s
        on i.customer_id = s.customer_id
        and i.period_start = s.period_start
    where i.invoice_id not in (select invoice_id from with_service)
    union all
    select i.invoice_id, cast(null as {{ whole_type() }}), i.period_start, i.period_end
    from invoices as i
    where i.invoice_id not in (select invoice_id from with_service)
        and not exists (
            select 1 from segments as s
            where s.customer_id = i.customer_id and s.period_start = i.period_start
        )
),

-- The calendar months of those days, with each invoice's weight in each: the days in the
-- month, or a line's amount (in ten-thousandths) times its share of the line's days, cut to a
-- whole number (the figures below are allocated exactly whatever the weights).
invoice_months as (
    select
        n.invoice_id,
        n.month,
        sum(case
            when n.weight is null then n.days
            else {{ int_div('n.weight * n.days', dbt.datediff('n.served_from', 'n.served_to', 'day')) }}
        end) as days
    from (
        select
            m.*,
            {{ dbt.datediff(
                'greatest(m.month, m.served_from)',
                'least(' ~ add_months('m.month', 1) ~ ', m.served_to)',
                'day'
            ) }} as days
        from (
            select k.*, {{ add_months('k.first_month', 'k.k') }} as month
            from (
                select
                    v.*,
                    {{ month_start('v.served_from') }} as first_month,
                    {{ numbers_to(dbt.datediff(month_start('v.served_from'), period_last_day('v.served_to'), 'month')) }} as k
                from served as v
            ) as k
        ) as m
    ) as n
    group by 1, 2
),

figures as (
    {%- for figure, amount in [
        ('billed', 'total - tax + credits_applied_to_tax'),
        ('tax', 'tax'),
        ('credits_to_tax', 'credits_applied_to_tax'),
        ('discounts', 'discounts'),
    ] %}
    select invoice_id, customer_id, currency, '{{ figure }}' as figure, {{ amount }} as amount
    from invoices
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

spread_source as (
    select
        f.invoice_id,
        f.figure,
        cast(m.month as {{ dbt.type_string() }}) as item,
        {{ dbt.datediff("cast('2000-01-01' as date)", 'm.month', 'month') }} as item_order,
        c.minor_units,
        m.days as weight,
        f.amount
    from figures as f
    inner join invoice_months as m on f.invoice_id = m.invoice_id
    inner join currencies as c on f.currency = c.currency
),

{{ allocation_ctes('spread', 'spread_source', 'invoice_id, figure') }},

invoiced as (
    select
        i.customer_id,
        cast(s.item as date) as month,
        {%- for figure in ['billed', 'tax', 'credits_to_tax', 'discounts'] %}
        cast(sum(case when s.figure = '{{ figure }}' then s.share else 0 end) as {{ money_type() }}) as {{ figure }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from spread as s
    inner join invoices as i on s.invoice_id = i.invoice_id
    group by 1, 2
),

activity as (
    -- Every branch is cast to the money type: no engine's type unification may drop cents.
    select customer_id, month, billed,
        {{ zero }} as purchased, {{ zero }} as credit_revenue, {{ zero }} as breakage,
        {{ zero }} as discount, tax, credits_to_tax,
        {{ zero }} as to_tax_deferred, {{ zero }} as to_tax_promotional, discounts
    from invoiced
    union all
    select customer_id, {{ month_start('granted_at') }}, {{ zero }}, purchase_amount,
        {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}
    from grants
    where kind = 'purchased'
    union all
    select customer_id, {{ month_start('entry_date') }}, {{ zero }}, {{ zero }}, revenue,
        {{ zero }}, case when kind = 'promotional' then money - tax_money else {{ zero }} end,
        {{ zero }}, {{ zero }}, deferred_to_tax,
        case when kind = 'promotional' then tax_money else {{ zero }} end, {{ zero }}
    from ledger
    where entry_type = 'consumption'
    union all
    select customer_id, {{ month_start('entry_date') }}, {{ zero }}, {{ zero }}, {{ zero }},
        revenue, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}, {{ zero }}
    from ledger
    where entry_type = 'expiry'
),

monthly as (
    select
        customer_id,
        month,
        cast(sum(billed) as {{ money_type() }}) as billed_revenue,
        cast(sum(credit_revenue) as {{ money_type() }}) as credit_revenue,
        cast(sum(breakage) as {{ money_type() }}) as breakage_revenue,
        cast(sum(discount) as {{ money_type() }}) as promotional_discount,
        cast(sum(purchased) as {{ money_type() }}) as purchases,
        cast(sum(tax) as {{ money_type() }}) as tax_billed,
        cast(sum(discounts) as {{ money_type() }}) as discounts,
        cast(sum(credits_to_tax) as {{ money_type() }}) as credits_applied_to_tax,
        cast(sum(to_tax_deferred) as {{ money_type() }}) as deferred_to_tax,
        cast(sum(to_tax_promotional) as {{ money_type() }}) as promotional_tax,
        cast(sum(purchased - credit_revenue - breakage - to_tax_deferred) as {{ money_type() }}) as deferred_change
    from activity
    group by 1, 2
),

final as (
    select
        m.customer_id,
        m.month,
        c.currency,
        billed_revenue,
        credit_revenue,
        breakage_revenue,
        cast(billed_revenue + credit_revenue + breakage_revenue as {{ money_type() }}) as recognized_revenue,
        promotional_discount,
        purchases,
        cast(coalesce(sum(deferred_change) over (
            partition by m.customer_id order by m.month
            rows between unbounded preceding and 1 preceding
        ), 0) as {{ money_type() }}) as deferred_opening,
        cast(sum(deferred_change) over (
            partition by m.customer_id order by m.month
            rows between unbounded preceding and current row
        ) as {{ money_type() }}) as deferred_closing,
        tax_billed,
        credits_applied_to_tax,
        deferred_to_tax,
        promotional_tax,
        discounts
    from monthly as m
    inner join customers as c on m.customer_id = c.customer_id
)

select * from final
