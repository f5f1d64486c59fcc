-- Event groups with the charge they are billed under (null = usage that no charge prices).
with

groups as (select * from {{ ref('int_usage_event_groups') }}),
matched as (select * from {{ ref('int_charge_signatures_matched') }}),

final as (
    select
        g.*,
        m.charge_id
    from groups as g
    left join matched as m
        on g.plan_id = m.plan_id
        and g.plan_version = m.plan_version
        and g.metric = m.metric
        and g.status_key = m.status_key
        and g.properties_key = m.properties_key
)

select * from final
