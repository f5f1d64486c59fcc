-- One row per subscription and billing period it holds part of (transforms/cadence.py is the
-- reference): the segment of the period rated under one plan; with usage invoiced monthly,
-- one per month of the period (see `parts` below). The plan version is the highest whose
-- effective_from is on or before the invoice period's start.
-- A plan's periods follow its cadence (the same in every version): billing_interval month,
-- quarter or year; billing_anchor calendar (months, quarters from 1 January, April, July and
-- October, years from 1 January; a subscription starting inside one has a partial first
-- period) or subscription (period k starts started_at + k intervals, the day clamped to the
-- month's end; the first period is whole).
--   billing_period_start/end  the period the plan bills (end exclusive); period_days its days,
--                             what a partial segment's fee and plan commitments are prorated
--                             over; billing_months its months (1, 3, 12)
--   rating_start/end          what usage is rated over: the billing period, or its month when
--                             usage is invoiced monthly (rating_days: what a charge's
--                             commitments and a weighted_sum level are prorated over);
--                             invoice_months the invoice's months (1 for monthly usage)
--   held_from/to, held_days   the subscription's days in the whole billing period;
--   first_part, last_part     whether this row is its first / last invoice of the period
--   next_period_end           the end of the billing period after this one (it starts at
--                             billing_period_end): what a base fee in advance pays for
--   base_fee_timing           in_arrears or in_advance; for a fee in advance
--                             (int_invoice_lines_rated): paid_ahead, the period's fee was on
--                             an earlier invoice (the subscription started before it);
--                             bills_next_period, the subscription holds the next period's
--                             first day; next_base_fee, the fee of the version in force then
--                             (next_plan_version).
--                             False and null in arrears, so that a subscription's end moving
--                             never re-rates a period it does not change.
--   period_start/end          the invoice's own period: the billing period, except where a
--                             subscription of another run (below) holds part of it. Then the
--                             old run's last period ends where its days end and the new one's
--                             first starts where its days start, so that a customer's invoices
--                             never overlap (a cadence change gives two invoices, never one
--                             spanning both cadences).
-- A customer's subscriptions of one cadence in a row are a run and share their periods (one
-- invoice, two segments).
-- Periods run from each subscription's first to the one holding the latest data we hold.
with

subscriptions as (select * from {{ ref('stg_reference__subscriptions') }}),
plans as (select * from {{ ref('stg_pricing__plans') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
last_usage as (select as_of_date as last_usage_date from {{ ref('stg_lake__as_of') }}),

horizon as (
    select greatest(
        coalesce((select last_usage_date from last_usage), cast('1900-01-01' as date)),
        (select max(started_at) from subscriptions)
    ) as last_day
),

cadences as (
    select
        plan_id,
        max(billing_interval) as billing_interval,
        max(billing_anchor) as billing_anchor,
        max(case when usage_invoicing = 'monthly' then 1 else 0 end) as monthly_usage
    from plans
    group by 1
),

-- Each subscription with its cadence's step in months.
anchored as (
    select
        s.subscription_id,
        s.customer_id,
        s.plan_id,
        s.started_at,
        s.ended_at,
        coalesce(c.billing_interval, 'month') || '/' || coalesce(c.billing_anchor, 'calendar') as cadence,
        case c.billing_interval when 'quarter' then 3 when 'year' then 12 else 1 end as step,
        coalesce(c.billing_anchor, 'calendar') as billing_anchor,
        coalesce(c.monthly_usage, 0) as monthly_usage,
        h.last_day
    from subscriptions as s
    left join cadences as c on s.plan_id = c.plan_id
    cross join horizon as h
),

-- Runs: a customer's subscriptions of one cadence in a row share their periods (calendar ones
-- whatever the gaps; anniversary ones each starting where the one before ended, the first
-- one's anchor kept).
run_starts as (
    select
        a.*,
        case
            when lag(a.cadence) over w = a.cadence
                and (a.billing_anchor = 'calendar' or lag(a.ended_at) over w = a.started_at) then 0
            else 1
        end as starts_run
    from anchored as a
    window w as (partition by a.customer_id order by a.started_at, a.subscription_id)
),

runs as (
    select
        r.*,
        sum(r.starts_run) over (
            partition by r.customer_id order by r.started_at, r.subscription_id
            rows between unbounded preceding and current row
        ) as run
    from run_starts as r
),

-- The start of each subscription's period 0.
based as (
    select
        r.*,
        case
            when r.billing_anchor = 'subscription'
                then min(r.started_at) over (partition by r.customer_id, r.run)
            else {{ add_months(
                'cast(' ~ dbt.date_trunc('year', 'r.started_at') ~ ' as date)',
                tally.int_div(dbt.datediff(dbt.date_trunc('year', 'r.started_at'), month_start('r.started_at'), 'month'), 'r.step') ~ ' * r.step'
            ) }}
        end as base
    from runs as r
),

numbered as (
    select
        b.*,
        {{ numbers_to(tally.int_div(
            'greatest(' ~ dbt.datediff('b.base', 'b.last_day', 'month') ~ ', 0)', 'b.step'
        ) ~ ' + 1') }} as k
    from based as b
),

billing_periods as (
    select
        n.subscription_id,
        n.customer_id,
        n.plan_id,
        n.run,
        n.step,
        n.base,
        n.k,
        n.monthly_usage,
        n.started_at,
        n.ended_at,
        {{ add_months('n.base', 'n.k * n.step') }} as billing_period_start,
        {{ add_months('n.base', '(n.k + 1) * n.step') }} as billing_period_end,
        {{ add_months('n.base', '(n.k + 2) * n.step') }} as next_period_end,
        n.last_day
    from numbered as n
),

held as (
    select
        p.*,
        greatest(p.started_at, p.billing_period_start) as segment_start,
        least(coalesce(p.ended_at, p.billing_period_end), p.billing_period_end) as segment_end
    from billing_periods as p
    where p.billing_period_start <= p.last_day
        and p.billing_period_end > p.started_at
        and (p.ended_at is null or p.billing_period_start < p.ended_at)
),

-- Per run and billing period, the days its subscriptions hold of it; per subscription, its
-- first period's start and last period's end.
spans as (
    select
        customer_id,
        run,
        billing_period_start,
        billing_period_end,
        min(segment_start) as span_start,
        max(segment_end) as span_end
    from held
    group by 1, 2, 3, 4
),

bounds as (
    select
        subscription_id,
        customer_id,
        run,
        min(started_at) as started_at,
        min(billing_period_start) as first_period_start,
        max(billing_period_end) as last_period_end
    from held
    group by 1, 2, 3
),

-- Where a subscription of another run holds part of a run's billing period: one that started
-- before the run's days in it and whose last period ends inside it (the invoice starts with
-- the run's days), or one that starts after them and whose first period starts inside it
-- (the invoice ends with them).
cut as (
    select
        sp.customer_id,
        sp.run,
        sp.billing_period_start,
        sp.span_start,
        sp.span_end,
        max(case
            when o.started_at < sp.span_start and o.last_period_end > sp.billing_period_start
                then 1 else 0
        end) as other_before,
        max(case
            when o.started_at >= sp.span_end and o.first_period_start < sp.billing_period_end
                then 1 else 0
        end) as other_after
    from spans as sp
    inner join bounds as o
        on sp.customer_id = o.customer_id
        and sp.run <> o.run
    group by 1, 2, 3, 4, 5
),

subscription_periods as (
    select
        h.subscription_id,
        h.customer_id,
        h.plan_id,
        case when c.other_before = 1 then c.span_start else h.billing_period_start end as period_start,
        case when c.other_after = 1 then c.span_end else h.billing_period_end end as period_end,
        h.billing_period_start,
        h.billing_period_end,
        h.next_period_end,
        h.step as billing_months,
        h.segment_start,
        h.segment_end,
        h.started_at,
        h.ended_at,
        h.base,
        h.k,
        h.monthly_usage,
        h.last_day
    from held as h
    left join cut as c
        on h.customer_id = c.customer_id
        and h.run = c.run
        and h.billing_period_start = c.billing_period_start
),

-- Usage invoiced monthly (a quarter or a year): each billing period's part month by month,
-- on the anchor's day (the rating period: what usage, tiers and charge commitments are rated
-- over); the invoice and the segment are each month's part of them. Other plans: one part,
-- the billing period. held_from / held_to: the days the subscription holds of the whole
-- billing period (what its fee and the plan's commitments are prorated by).
months as (
    select
        o.*,
        {{ numbers_to('case when o.monthly_usage = 1 then o.billing_months - 1 else 0 end') }} as j
    from subscription_periods as o
),

parts as (
    select
        m.*,
        case when m.monthly_usage = 1
            then {{ add_months('m.base', 'm.k * m.billing_months + m.j') }}
            else m.billing_period_start
        end as rating_start,
        case when m.monthly_usage = 1
            then {{ add_months('m.base', 'm.k * m.billing_months + m.j + 1') }}
            else m.billing_period_end
        end as rating_end
    from months as m
),

sliced as (
    select
        subscription_id,
        customer_id,
        plan_id,
        greatest(period_start, rating_start) as period_start,
        least(period_end, rating_end) as period_end,
        billing_period_start,
        billing_period_end,
        next_period_end,
        billing_months,
        greatest(segment_start, rating_start) as segment_start,
        least(segment_end, rating_end) as segment_end,
        rating_start,
        rating_end,
        monthly_usage,
        started_at,
        ended_at,
        greatest(billing_period_start, started_at) as held_from,
        least(billing_period_end, coalesce(ended_at, billing_period_end)) as held_to
    from parts
    where greatest(segment_start, rating_start) < least(segment_end, rating_end)
        and rating_start <= last_day
),

versioned as (
    select
        o.*,
        pl.plan_version,
        pl.currency,
        pl.base_fee,
        pl.base_fee_timing,
        pl.minimum_commitment,
        pl.maximum_commitment,
        pl.credit_rate,
        row_number() over (
            partition by o.subscription_id, o.period_start order by pl.plan_version desc
        ) as version_rank
    from sliced as o
    inner join plans as pl
        on o.plan_id = pl.plan_id
        and pl.effective_from <= o.period_start
),

-- The base fee of the version in force when the next billing period starts (a fee in advance
-- is billed a period ahead at that price).
next_fees as (
    select
        subscription_id,
        billing_period_start,
        base_fee as next_base_fee,
        plan_version as next_plan_version
    from (
        select
            o.subscription_id,
            o.billing_period_start,
            pl.base_fee,
            pl.plan_version,
            row_number() over (
                partition by o.subscription_id, o.billing_period_start order by pl.plan_version desc
            ) as version_rank
        from subscription_periods as o
        inner join plans as pl
            on o.plan_id = pl.plan_id
            and pl.effective_from <= o.billing_period_end
    ) as r
    where version_rank = 1
),

final as (
    select
        v.subscription_id || ':' || {{ month_key('v.period_start') }} as segment_id,
        v.subscription_id,
        v.customer_id,
        v.plan_id,
        v.plan_version,
        v.period_start,
        v.period_end,
        v.segment_start,
        v.segment_end,
        {{ dbt.datediff('v.segment_start', 'v.segment_end', 'day') }} as segment_days,
        {{ dbt.datediff('v.billing_period_start', 'v.billing_period_end', 'day') }} as period_days,
        -- the rating period's days (the billing period's, or its month's): what a charge's
        -- commitments and a weighted_sum level are prorated over
        {{ dbt.datediff('v.rating_start', 'v.rating_end', 'day') }} as rating_days,
        v.rating_start,
        v.rating_end,
        -- the subscription's days in the whole billing period, and whether this part is its
        -- first or last invoice of it (a period invoiced whole: both)
        v.held_from,
        v.held_to,
        {{ dbt.datediff('v.held_from', 'v.held_to', 'day') }} as held_days,
        v.segment_start = v.held_from as first_part,
        v.segment_end = v.held_to as last_part,
        v.billing_period_start,
        v.billing_period_end,
        v.next_period_end,
        v.billing_months,
        -- the invoice's months: 1 for usage invoiced monthly, else the billing period's
        case when v.monthly_usage = 1 then 1 else v.billing_months end as invoice_months,
        v.currency,
        c.minor_units,
        v.base_fee,
        coalesce(v.base_fee_timing, 'in_arrears') as base_fee_timing,
        coalesce(v.base_fee_timing = 'in_advance' and v.started_at < v.billing_period_start, false)
            as paid_ahead,
        coalesce(
            v.base_fee_timing = 'in_advance'
            and (v.ended_at is null or v.ended_at > v.billing_period_end),
            false
        ) as bills_next_period,
        case when v.base_fee_timing = 'in_advance' then n.next_base_fee end as next_base_fee,
        case when v.base_fee_timing = 'in_advance' then n.next_plan_version end as next_plan_version,
        v.minimum_commitment,
        v.maximum_commitment,
        v.credit_rate
    from versioned as v
    inner join currencies as c on v.currency = c.currency
    left join next_fees as n
        on v.subscription_id = n.subscription_id
        and v.billing_period_start = n.billing_period_start
    where v.version_rank = 1
)

select * from final
