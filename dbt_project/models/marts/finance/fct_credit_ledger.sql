-- Credit ledger, one row per entry. Grants only for now: consumption at close and expiry
-- entries arrive with issue #4.
with

grants as (select * from {{ ref('stg_reference__credit_grants') }}),

entries as (
    select
        grant_id || ':grant' as entry_id,
        grant_id,
        customer_id,
        granted_at as entry_date,
        'grant' as entry_type,
        credits,
        cast(null as varchar) as invoice_id
    from grants
),

final as (
    select
        *,
        sum(credits) over (
            partition by grant_id order by entry_date, entry_id
            rows between unbounded preceding and current row
        ) as balance_after
    from entries
)

select * from final
