-- Revenue per customer and month, ASC 606 style, from issued invoices and the
-- credit ledger:
--   billed_revenue        cash-billed revenue of issued invoices of the month: what the
--                         customer pays for the service, total - tax + the credits that paid
--                         tax (credits pay the subtotal first); tax is never revenue
--   discounts             the coupons of issued invoices of the month (0 or negative):
--                         contra-revenue, already out of billed_revenue
--   tax_billed            the tax of issued invoices of the month
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

activity as (
    -- Every branch is cast to the money type: no engine's type unification may drop cents.
    select customer_id, period_start as month,
        cast(total - tax + credits_applied_to_tax as {{ money_type() }}) as billed,
        {{ zero }} as purchased, {{ zero }} as credit_revenue, {{ zero }} as breakage,
        {{ zero }} as discount, tax, credits_applied_to_tax as credits_to_tax,
        {{ zero }} as to_tax_deferred, {{ zero }} as to_tax_promotional, discounts
    from invoices
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
