-- Daily usage per customer, metric and charge. charge_id is null for usage no charge prices
-- (no subscription that day, or no charge filter matched): counted, but not billable.
with

usage as (select * from {{ ref('int_usage_charged') }}),

final as (
    select
        customer_id,
        usage_date,
        metric,
        charge_id,
        cast(sum(events) as bigint) as events,
        cast(sum(quantity) as {{ quantity_type() }}) as quantity,
        cast(sum(case when charge_id is not null then events else 0 end) as bigint) as billable_events,
        cast(sum(case when charge_id is not null then quantity else 0 end) as {{ quantity_type() }}) as billable_quantity
    from usage
    group by 1, 2, 3, 4
)

select * from final
