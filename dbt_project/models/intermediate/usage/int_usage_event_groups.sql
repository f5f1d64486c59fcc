-- The daily event groups with the segment (plan) in force that day. Filter matching then runs
-- on distinct signatures instead of on every event. A day's groups belong to the period of
-- the segment holding the day (its calendar month when no subscription holds it).
-- Incremental by billing period: a build rates again only the periods whose inputs changed
-- (periods_to_rebuild), reading only their days of the daily aggregate and keeping the rows
-- of those periods.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

daily as (
    select *
    from {{ ref('int_usage_daily') }}
    where {{ date_in_periods('usage_date', periods) }}
),

segments as (select * from {{ ref('int_subscription_segments') }}),
fingerprints as (select * from {{ ref('int_period_fingerprints') }}),

final as (
    select
        d.customer_id,
        d.usage_date,
        d.metric,
        d.status_key,
        d.properties_key,
        s.segment_id,
        s.plan_id,
        s.plan_version,
        d.events,
        d.quantity,
        d.max_quantity,
        d.min_quantity,
        d.quantity_seconds,
        d.latest_quantity,
        d.latest_occurred_at,
        d.latest_event_id,
        coalesce(s.period_start, {{ month_start('d.usage_date') }}) as period_start
    from daily as d
    left join segments as s
        on d.customer_id = s.customer_id
        and d.usage_date >= s.segment_start
        and d.usage_date < s.segment_end
)

select final.*, f.fingerprint as rated_with
from final
left join fingerprints as f on final.period_start = f.period_start
where {{ period_in('final.period_start', periods) }}
