-- Daily usage per customer, metric and charge. charge_id is null for usage no charge prices
-- (no subscription that day, or no charge filter matched): counted, but not billable.
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental(apart=false)) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

usage as (
    select *
    from {{ ref('int_usage_charged') }}
    where {{ period_in('period_start', periods) }}
),

fingerprints as (select * from {{ ref('int_period_fingerprints') }}),

final as (
    select
        u.customer_id,
        u.usage_date,
        u.metric,
        u.charge_id,
        cast(sum(u.events) as bigint) as events,
        cast(sum(u.quantity) as {{ quantity_type() }}) as quantity,
        cast(sum(case when u.charge_id is not null then u.events else 0 end) as bigint) as billable_events,
        cast(sum(case when u.charge_id is not null then u.quantity else 0 end) as {{ quantity_type() }}) as billable_quantity,
        u.period_start,
        f.fingerprint as rated_with
    from usage as u
    left join fingerprints as f
        on u.period_start = f.period_start
    group by u.customer_id, u.usage_date, u.metric, u.charge_id, u.period_start, f.fingerprint
)

select * from final
