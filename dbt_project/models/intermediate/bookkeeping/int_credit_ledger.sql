-- The credit ledger, one row per entry: grants (one-off grants of credit_grants.csv and each
-- recurring grant's instances, int_credit_grants), rollovers (credits an instance carried into
-- the next one, frozen at month close: out of one, into the other), consumption (frozen at
-- month close, linked to the invoice it paid) and expiry. Credits are signed: grants add,
-- consumption and expiry take away. Within a day: grant, rollover, consumption, expiry.
-- An expiry is recorded once every month it could have paid is closed, so it never changes:
-- frozen at close for a recurring grant's instance (what its rollover did not carry) and for
-- a one-off grant's balance above its rollover_cap; for any other grant, the balance left on
-- expires_at once expires_at is on or before the latest closed period's end. revenue is what
-- the entry recognizes: cost-basis revenue of consumed purchased credits, or breakage of an
-- expired purchased balance. A consumption that paid tax (credits pay the subtotal first)
-- says how much (tax_money) and, for purchased credits, the cost basis that moved to tax
-- payable rather than revenue (deferred_to_tax).
with

grants as (select * from {{ ref('int_credit_grants') }}),
consumption as (select * from {{ ref('stg_issued__credit_consumption') }}),
rollovers as (select * from {{ ref('stg_issued__credit_rollovers') }}),
closed as (select max(period_end) as closed_through from {{ ref('stg_issued__invoices') }}),

used as (
    select grant_id, sum(credits) as credits, sum(revenue + deferred_to_tax) as revenue
    from consumption
    group by 1
),

settled as (
    select grant_id, sum(moved + breakage) as revenue
    from rollovers
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

rollover_entries as (
    select
        entry_id || ':out' as entry_id,
        grant_id,
        customer_id,
        entry_date,
        1 as entry_order,
        'rollover' as entry_type,
        -carried as credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        cast(0 as {{ money_type() }}) as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from rollovers
    where carried > 0
    union all
    select
        entry_id || ':in' as entry_id,
        to_grant_id as grant_id,
        customer_id,
        entry_date,
        1 as entry_order,
        'rollover' as entry_type,
        carried as credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        cast(0 as {{ money_type() }}) as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from rollovers
    where carried > 0
),

consumption_entries as (
    select
        entry_id,
        grant_id,
        customer_id,
        entry_date,
        2 as entry_order,
        'consumption' as entry_type,
        -credits as credits,
        invoice_id,
        money,
        revenue,
        tax_money,
        deferred_to_tax
    from consumption
),

frozen_expiry_entries as (
    select
        entry_id || ':expiry' as entry_id,
        grant_id,
        customer_id,
        entry_date,
        3 as entry_order,
        'expiry' as entry_type,
        -expired as credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        breakage as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from rollovers
    where expired > 0 or breakage > 0
),

expiry_entries as (
    select
        g.grant_id || ':expiry' as entry_id,
        g.grant_id,
        g.customer_id,
        g.expires_at as entry_date,
        3 as entry_order,
        'expiry' as entry_type,
        -(g.credits + g.rolled_in - g.settled_out - coalesce(u.credits, 0)) as credits,
        cast(null as string) as invoice_id,
        cast(0 as {{ money_type() }}) as money,
        cast(case
            when g.kind = 'purchased'
                then g.purchase_amount + g.moved_in - coalesce(u.revenue, 0) - coalesce(s.revenue, 0)
            else 0
        end as {{ money_type() }}) as revenue,
        cast(0 as {{ money_type() }}) as tax_money,
        cast(0 as {{ money_type() }}) as deferred_to_tax
    from grants as g
    cross join closed as c
    left join used as u on g.grant_id = u.grant_id
    left join settled as s on g.grant_id = s.grant_id
    where g.expires_at <= c.closed_through
        and (g.credits + g.rolled_in - g.settled_out - coalesce(u.credits, 0) > 0
            or (g.kind = 'purchased'
                and g.purchase_amount + g.moved_in - coalesce(u.revenue, 0) - coalesce(s.revenue, 0) > 0))
),

entries as (
    select * from grant_entries
    union all
    select * from rollover_entries
    union all
    select * from consumption_entries
    union all
    select * from frozen_expiry_entries
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
        g.source,
        g.instance_of,
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
