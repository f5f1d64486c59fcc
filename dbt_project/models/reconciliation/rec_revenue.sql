-- Deferred revenue rolls forward, per customer and month: opening + purchases - credit
-- revenue - breakage - what paid tax = closing; opening = the previous month's closing; and closing equals,
-- computed independently from the grants and the ledger, purchases to date minus revenue the
-- ledger has recognized to date.
{%- set q = quantity_type() %}
with

revenue as (select * from {{ ref('fct_revenue_monthly') }}),
grants as (select * from {{ ref('int_credit_grants') }}),
ledger as (select * from {{ ref('fct_credit_ledger') }}),

rolled as (
    select
        *,
        lag(deferred_closing) over (partition by customer_id order by month) as previous_closing
    from revenue
),

purchased_to_date as (
    select r.customer_id, r.month, coalesce(sum(g.purchase_amount), 0) as amount
    from revenue as r
    left join grants as g
        on r.customer_id = g.customer_id
        and g.kind = 'purchased'
        and g.granted_at < {{ add_months('r.month', 1) }}
    group by 1, 2
),

recognized_to_date as (
    select r.customer_id, r.month, coalesce(sum(l.revenue + l.deferred_to_tax), 0) as amount
    from revenue as r
    left join ledger as l
        on r.customer_id = l.customer_id
        and l.kind = 'purchased'
        and l.entry_type in ('consumption', 'expiry')
        and l.entry_date < {{ add_months('r.month', 1) }}
    group by 1, 2
),

findings as (
    select
        'deferred_roll_forward_broken' as check_name,
        r.customer_id,
        r.month as period_start,
        'opening + purchases - credit revenue - breakage - deferred to tax' as subject,
        cast(
            r.deferred_opening + r.purchases - r.credit_revenue - r.breakage_revenue - r.deferred_to_tax
            as {{ q }}
        ) as expected,
        cast(r.deferred_closing as {{ q }}) as actual
    from rolled as r
    union all
    select
        'deferred_roll_forward_broken' as check_name,
        r.customer_id,
        r.month as period_start,
        'opening = previous closing' as subject,
        cast(coalesce(r.previous_closing, 0) as {{ q }}) as expected,
        cast(r.deferred_opening as {{ q }}) as actual
    from rolled as r
    union all
    select
        'deferred_roll_forward_broken' as check_name,
        r.customer_id,
        r.month as period_start,
        'closing = purchases to date - recognized to date' as subject,
        cast(p.amount - c.amount as {{ q }}) as expected,
        cast(r.deferred_closing as {{ q }}) as actual
    from rolled as r
    inner join purchased_to_date as p on r.customer_id = p.customer_id and r.month = p.month
    inner join recognized_to_date as c on r.customer_id = c.customer_id and r.month = c.month
)

select {{ finding_columns("'error'") }}
from findings
where expected <> actual
