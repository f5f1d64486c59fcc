-- Event groups with the charge they are billed under (null = usage that no charge prices).
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

groups as (
    select *
    from {{ ref('int_usage_event_groups') }}
    where {{ period_in('period_start', periods) }}
),

matched as (select * from {{ ref('int_charge_signatures_matched') }}),
fingerprints as (select * from {{ ref('int_period_fingerprints') }}),

final as (
    select
        g.customer_id,
        g.usage_date,
        g.metric,
        g.status_key,
        g.properties_key,
        g.segment_id,
        g.plan_id,
        g.plan_version,
        g.events,
        g.quantity,
        g.max_quantity,
        g.min_quantity,
        g.quantity_seconds,
        g.latest_quantity,
        g.latest_occurred_at,
        g.latest_event_id,
        m.charge_id,
        m.group_key,
        coalesce(m.price_index, 0) as price_index,
        g.period_start,
        f.fingerprint as rated_with
    from groups as g
    left join matched as m
        on g.plan_id = m.plan_id
        and g.plan_version = m.plan_version
        and g.metric = m.metric
        and g.status_key = m.status_key
        and g.properties_key = m.properties_key
    left join fingerprints as f
        on g.period_start = f.period_start
)

select * from final
