-- Credits a draft invoice would receive if its month closed now: the same burn order and
-- per-grant rule as month close (transforms/credits.py), paying the subtotal plus tax, over
-- balances left after the issued months. Only each customer's earliest open period gets an estimate: months close in order,
-- and a later open period's credits depend on what the earlier one will draw.
with

invoices as (select * from {{ ref('int_invoices_with_adjustments') }}),
issued as (select invoice_id from {{ ref('stg_issued__invoices') }}),
grants as (select * from {{ ref('stg_reference__credit_grants') }}),
consumption as (select * from {{ ref('stg_issued__credit_consumption') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),

consumed as (
    select grant_id, sum(credits) as credits
    from consumption
    group by 1
),

open_invoices as (
    select
        i.*,
        row_number() over (partition by i.customer_id order by i.period_start) as open_rank
    from invoices as i
    where i.invoice_id not in (select invoice_id from issued)
),

candidates as (
    select
        o.invoice_id,
        o.subtotal + o.tax as due,
        g.grant_id,
        g.priority,
        g.expires_at,
        g.kind,
        g.granted_at,
        g.credits - coalesce(u.credits, 0) as balance,
        {{ round_money('(g.credits - coalesce(u.credits, 0)) * o.credit_rate', 'c.minor_units') }} as money_value
    from open_invoices as o
    inner join grants as g
        on o.customer_id = g.customer_id
        and g.granted_at < o.period_end
        and (g.expires_at is null or g.expires_at >= o.period_end)
    inner join currencies as c on o.currency = c.currency
    left join consumed as u on g.grant_id = u.grant_id
    where o.open_rank = 1
        and o.credit_rate > 0
),

-- Burn order: priority, expiry (never-expiring last), promotional first, oldest, grant id.
ordered as (
    select
        *,
        coalesce(sum(money_value) over (
            partition by invoice_id
            order by
                priority,
                case when expires_at is null then 1 else 0 end,
                expires_at,
                case when kind = 'promotional' then 0 else 1 end,
                granted_at,
                grant_id
            rows between unbounded preceding and 1 preceding
        ), 0) as value_before
    from candidates
    where balance > 0
),

final as (
    select
        invoice_id,
        cast(sum(greatest(least(money_value, due - value_before), 0)) as {{ money_type() }}) as credits_applied
    from ordered
    group by 1
)

select * from final
