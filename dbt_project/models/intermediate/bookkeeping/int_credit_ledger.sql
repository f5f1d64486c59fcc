-- The credit ledger, one row per entry: grants (from credit_grants.csv), consumption (frozen
-- at month close, linked to the invoice it paid) and expiry (the balance left on expires_at).
-- Credits are signed: grants add, consumption and expiry take away. An expiry is recorded
-- once every month it could have paid is closed (expires_at on or before the latest closed
-- period's end), so a recorded expiry never changes. revenue is what the entry recognizes:
-- cost-basis revenue of consumed purchased credits, or breakage of an expired purchased grant.
-- A consumption that paid tax (credits pay the subtotal first) says how much (tax_money) and,
-- for purchased credits, the cost basis that moved to tax payable rather than revenue
-- (deferred_to_tax).
with

grants as (select * from {{ ref('stg_reference__credit_grants') }}),
consumption as (select * from {{ ref('stg_issued__credit_consumption') }}),
closed as (select max(period_end) as closed_through from {{ ref('stg_issued__invoices') }}),

used as (
    select grant_id, sum(credits) as credits, sum(revenue + deferred_to_tax) as revenue
    from consumption
    group by 1
),

grant_entries as (
    select
        grant_id || ':grant' as entry_id,
        grant_id,
        customer_id,
        granted_at as entry_date,
        0 as entry_order,
        'grant' as entry_type,
        credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        cast(0 as {{ money_type() }}) as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from grants
),

consumption_entries as (
    select
        entry_id,
        grant_id,
        customer_id,
        entry_date,
        1 as entry_order,
        'consumption' as entry_type,
        -credits as credits,
        invoice_id,
        money,
        revenue,
        tax_money,
        deferred_to_tax
    from consumption
),

expiry_entries as (
    select
        g.grant_id || ':expiry' as entry_id,
        g.grant_id,
        g.customer_id,
        g.expires_at as entry_date,
        2 as entry_order,
        'expiry' as entry_type,
        -(g.credits - coalesce(u.credits, 0)) as credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        cast(case
            when g.kind = 'purchased' then g.purchase_amount - coalesce(u.revenue, 0)
            else 0
        end as {{ money_type() }}) as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from grants as g
    cross join closed as c
    left join used as u on g.grant_id = u.grant_id
    where g.expires_at <= c.closed_through
        and (g.credits - coalesce(u.credits, 0) > 0
            or (g.kind = 'purchased' and g.purchase_amount - coalesce(u.revenue, 0) > 0))
),

entries as (
    select * from grant_entries
    union all
    select * from consumption_entries
    union all
    select * from expiry_entries
),

final as (
    select
        e.entry_id,
        e.grant_id,
        e.customer_id,
        e.entry_date,
        e.entry_type,
        g.kind,
        cast(e.credits as {{ quantity_type() }}) as credits,
        e.invoice_id,
        e.money,
        e.revenue,
        e.tax_money,
        e.deferred_to_tax,
        cast(sum(e.credits) over (
            partition by e.grant_id order by e.entry_date, e.entry_order, e.entry_id
            rows between unbounded preceding and current row
        ) as {{ quantity_type() }}) as balance_after,
        cast(sum(e.credits) over (
            partition by e.customer_id order by e.entry_date, e.entry_order, e.entry_id
            rows between unbounded preceding and current row
        ) as {{ quantity_type() }}) as customer_balance_after
    from entries as e
    inner join grants as g on e.grant_id = g.grant_id
)

select * from final
