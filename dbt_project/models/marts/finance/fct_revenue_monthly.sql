-- Revenue per customer and month. Billed (cash) revenue of issued invoices is complete;
-- credit revenue, breakage and the deferred roll-forward arrive with issue #4 (zero here).
with

invoices as (select * from {{ ref('fct_invoices') }} where status = 'issued'),
grants as (select * from {{ ref('stg_reference__credit_grants') }}),

billed as (
    select customer_id, period_start as month, sum(total) as billed_revenue
    from invoices
    group by 1, 2
),

purchases as (
    select customer_id, {{ month_start('granted_at') }} as month, sum(purchase_amount) as purchased
    from grants
    where kind = 'purchased'
    group by 1, 2
),

months as (
    select customer_id, month from billed
    union
    select customer_id, month from purchases
),

final as (
    select
        m.customer_id,
        m.month,
        cast(coalesce(b.billed_revenue, 0) as {{ money_type() }}) as billed_revenue,
        cast(0 as {{ money_type() }}) as credit_revenue,
        cast(0 as {{ money_type() }}) as breakage_revenue,
        cast(coalesce(b.billed_revenue, 0) as {{ money_type() }}) as recognized_revenue,
        cast(0 as {{ money_type() }}) as promotional_discount,
        cast(coalesce(sum(p.purchased) over (
            partition by m.customer_id order by m.month
            rows between unbounded preceding and 1 preceding
        ), 0) as {{ money_type() }}) as deferred_opening,
        cast(coalesce(sum(p.purchased) over (
            partition by m.customer_id order by m.month
            rows between unbounded preceding and current row
        ), 0) as {{ money_type() }}) as deferred_closing
    from months as m
    left join billed as b on m.customer_id = b.customer_id and m.month = b.month
    left join purchases as p on m.customer_id = p.customer_id and m.month = p.month
)

select * from final
