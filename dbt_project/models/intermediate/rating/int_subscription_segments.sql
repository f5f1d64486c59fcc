-- One row per subscription and billing period (UTC calendar month) it overlaps: the segment
-- of the period rated under one plan. The plan version is the highest whose effective_from
-- is on or before the period start.
with

subscriptions as (select * from {{ ref('stg_reference__subscriptions') }}),
plans as (select * from {{ ref('stg_pricing__plans') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
last_usage as (select as_of_date as last_usage_date from {{ ref('stg_lake__as_of') }}),

-- Periods run from the first subscription month to the month of the latest data we hold.
bounds as (
    select
        (select min({{ month_start('started_at') }}) from subscriptions) as first_month,
        {{ month_start('greatest(
            coalesce((select last_usage_date from last_usage), cast(\'1900-01-01\' as date)),
            (select max(started_at) from subscriptions)
        )') }} as last_month
),

periods as (
    {{ month_series('(select first_month from bounds)', '(select last_month from bounds)') }}
),

subscription_periods as (
    select
        s.subscription_id,
        s.customer_id,
        s.plan_id,
        p.period_start,
        {{ add_months('p.period_start', 1) }} as period_end,
        greatest(s.started_at, p.period_start) as segment_start,
        least(coalesce(s.ended_at, {{ add_months('p.period_start', 1) }}), {{ add_months('p.period_start', 1) }}) as segment_end
    from subscriptions as s
    inner join periods as p
        on s.started_at < {{ add_months('p.period_start', 1) }}
        and (s.ended_at is null or s.ended_at > p.period_start)
),

versioned as (
    select
        o.*,
        pl.plan_version,
        pl.currency,
        pl.base_fee,
        pl.minimum_commitment,
        pl.maximum_commitment,
        pl.credit_rate,
        row_number() over (
            partition by o.subscription_id, o.period_start order by pl.plan_version desc
        ) as version_rank
    from subscription_periods as o
    inner join plans as pl
        on o.plan_id = pl.plan_id
        and pl.effective_from <= o.period_start
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
        {{ dbt.datediff('v.period_start', 'v.period_end', 'day') }} as period_days,
        v.currency,
        c.minor_units,
        v.base_fee,
        v.minimum_commitment,
        v.maximum_commitment,
        v.credit_rate
    from versioned as v
    inner join currencies as c on v.currency = c.currency
    where v.version_rank = 1
)

select * from final
