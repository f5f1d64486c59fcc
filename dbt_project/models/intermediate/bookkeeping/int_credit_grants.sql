-- Every grant that can hold credits (transforms/grants.py is the reference): the one-off
-- grants of credit_grants.csv as they are, and each recurring row's instances
-- `<grant_id>@<start>`: instance k starts granted_at + k intervals (monthly 1, quarterly 3,
-- yearly 12 months; the day clamped to the month's end), before recurrence_ends_at and
-- expires_at, with the row's credits, kind, priority, purchase_amount and applies_to, and
-- expires when the next one starts. Instances are listed up to the end of the customer's
-- latest period the warehouse bills (and the one a closed month's rollover carried credits
-- into).
-- A plan's credit_allocation: each subscription segment (a subscription's part of a billing
-- period, under the plan version in force at the period's start) yields a promotional
-- instance `alloc:<subscription_id>@<segment start>` to the period's end, its credits
-- prorated by the segment's days (9 decimals, half-up), with the allocation's rollover_cap.
-- Automatic top-ups close made (stg_issued__credit_topups): `<topup_id>@<period_start>#<n>`,
-- granted on the period's last day, never expiring, instance_of the rule.
-- rolled_in/moved_in: credits and deferred revenue carried in by a rollover; settled_out:
-- credits that left by a rollover or an expiry frozen at close, expired_out the expired part
-- (stg_issued__credit_rollovers).
with

grants as (select * from {{ ref('stg_reference__credit_grants') }}),
rollovers as (select * from {{ ref('stg_issued__credit_rollovers') }}),
topups as (select * from {{ ref('stg_issued__credit_topups') }}),
horizons as (
    select customer_id, max(period_end) as horizon
    from {{ ref('int_invoices_computed') }}
    group by 1
),
horizon as (select max(horizon) as horizon from horizons),
segments as (select * from {{ ref('int_subscription_segments') }}),
plans as (select * from {{ ref('stg_pricing__plans') }}),

allocations as (
    select
        'alloc:' || s.subscription_id || '@' || cast(s.segment_start as string) as grant_id,
        s.customer_id,
        s.segment_start as granted_at,
        {{ scale_quantity('p.allocation_credits', 's.segment_days', 's.period_days') }} as credits,
        'promotional' as kind,
        cast(0 as {{ money_type() }}) as purchase_amount,
        s.period_end as expires_at,
        p.allocation_priority as priority,
        cast(null as string) as applies_to,
        p.allocation_rollover_cap as rollover_cap,
        'alloc:' || s.subscription_id as instance_of,
        'allocation' as source
    from segments as s
    inner join plans as p
        on s.plan_id = p.plan_id
        and s.plan_version = p.plan_version
    where p.allocation_credits is not null
),

rows_with_steps as (
    select
        g.*,
        case g.recurrence when 'monthly' then 1 when 'quarterly' then 3 else 12 end as step,
        -- a customer without invoices: the latest period of any
        coalesce(h.horizon, a.horizon) as horizon
    from grants as g
    cross join horizon as a
    left join horizons as h on g.customer_id = h.customer_id
    where g.recurrence is not null
),

numbered as (
    select
        r.*,
        {{ numbers_to(tally.int_div(
            'greatest(' ~ dbt.datediff('r.granted_at', 'coalesce(r.horizon, r.granted_at)', 'month') ~ ', 0)',
            'r.step'
        ) ~ ' + 1') }} as k
    from rows_with_steps as r
),

spans as (
    select
        *,
        {{ tally.add_months('granted_at', 'k * step') }} as starts_at,
        {{ tally.add_months('granted_at', '(k + 1) * step') }} as next_starts_at
    from numbered
),

instances as (
    select
        s.grant_id || '@' || cast(s.starts_at as string) as grant_id,
        s.customer_id,
        s.starts_at as granted_at,
        s.credits,
        s.kind,
        s.purchase_amount,
        case
            when s.expires_at is not null and s.expires_at < s.next_starts_at then s.expires_at
            else s.next_starts_at
        end as expires_at,
        s.priority,
        s.applies_to,
        coalesce(s.rollover_cap, 0) as rollover_cap,
        s.grant_id as instance_of,
        'recurrence' as source,
        s.horizon
    from spans as s
    where (s.recurrence_ends_at is null or s.starts_at < s.recurrence_ends_at)
        and (s.expires_at is null or s.starts_at < s.expires_at)
),

all_grants as (
    select
        grant_id, customer_id, granted_at, credits, kind, purchase_amount, expires_at,
        priority, applies_to, rollover_cap,
        cast(null as string) as instance_of,
        'reference' as source
    from grants
    where recurrence is null
    union all
    select
        grant_id, customer_id, granted_at, credits, kind, purchase_amount, expires_at,
        priority, applies_to, rollover_cap, instance_of, source
    from instances
    where granted_at < horizon
        or grant_id in (select to_grant_id from rollovers)
    union all
    select * from allocations
    union all
    select
        topup_grant_id as grant_id, customer_id, created_on as granted_at, credits, kind,
        purchase_amount,
        cast(null as date) as expires_at,
        priority,
        cast(null as string) as applies_to,
        cast(null as {{ quantity_type() }}) as rollover_cap,
        topup_id as instance_of,
        'topup' as source
    from topups
),

rolled_in as (
    select to_grant_id as grant_id, sum(carried) as credits, sum(moved) as moved
    from rollovers
    where to_grant_id is not null
    group by 1
),

settled_out as (
    select grant_id, sum(carried + expired) as credits, sum(expired) as expired
    from rollovers
    group by 1
),

final as (
    select
        g.grant_id,
        g.customer_id,
        g.granted_at,
        cast(g.credits as {{ quantity_type() }}) as credits,
        g.kind,
        cast(g.purchase_amount as {{ money_type() }}) as purchase_amount,
        g.expires_at,
        g.priority,
        g.applies_to,
        cast(g.rollover_cap as {{ quantity_type() }}) as rollover_cap,
        g.instance_of,
        g.source,
        cast(coalesce(i.credits, 0) as {{ quantity_type() }}) as rolled_in,
        cast(coalesce(i.moved, 0) as {{ money_type() }}) as moved_in,
        cast(coalesce(o.credits, 0) as {{ quantity_type() }}) as settled_out,
        cast(coalesce(o.expired, 0) as {{ quantity_type() }}) as expired_out
    from all_grants as g
    left join rolled_in as i on g.grant_id = i.grant_id
    left join settled_out as o on g.grant_id = o.grant_id
)

select * from final
