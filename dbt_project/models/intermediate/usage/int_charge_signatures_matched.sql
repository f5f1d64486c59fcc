-- Which charge (if any) each distinct event signature falls under. Charges of one plan on the
-- same metric have disjoint filters (validated in the price book), so at most one matches;
-- a signature that matches none is usage that is not billable. A recurring charge also reads
-- events from before its plan version was in force (int_usage_carried): their signatures are
-- matched against it too.
with

charges as (select * from {{ ref('stg_pricing__charges') }}),
carried as (select * from {{ ref('int_usage_carried') }}),

signatures as (
    select distinct plan_id, plan_version, metric, status_key, properties_key
    from {{ ref('int_usage_event_groups') }}
    where plan_id is not null
    union
    select c.plan_id, c.plan_version, s.metric, s.status_key, s.properties_key
    from (
        -- the state at the latest period holds every signature carried so far
        select distinct metric, status_key, properties_key
        from carried
        where period_start = (select max(period_start) from carried)
    ) as s
    inner join charges as c on s.metric = c.metric
    where c.recurring
),
status_filters as (select * from {{ ref('stg_pricing__charge_status_filters') }}),
property_filters as (select * from {{ ref('stg_pricing__charge_property_filters') }}),

candidates as (
    select
        s.*,
        c.charge_id,
        c.has_status_filter,
        c.property_filter_count
    from signatures as s
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
        and s.metric = c.metric
),

status_matched as (
    select cand.*
    from candidates as cand
    where not cand.has_status_filter
        or exists (
            select 1
            from status_filters as f
            where f.plan_id = cand.plan_id
                and f.plan_version = cand.plan_version
                and f.charge_id = cand.charge_id
                and cand.status_key between f.status_from and f.status_to
        )
),

-- Every filtered property key must hold one of its listed values.
property_matches as (
    select
        sm.plan_id,
        sm.plan_version,
        sm.metric,
        sm.status_key,
        sm.properties_key,
        sm.charge_id,
        sm.property_filter_count,
        count(distinct f.property_key) as keys_matched
    from status_matched as sm
    left join property_filters as f
        on f.plan_id = sm.plan_id
        and f.plan_version = sm.plan_version
        and f.charge_id = sm.charge_id
        and {{ json_get('sm.properties_key', 'f.property_key') }} = f.property_value
    group by 1, 2, 3, 4, 5, 6, 7
),

final as (
    select plan_id, plan_version, metric, status_key, properties_key, charge_id
    from property_matches
    where keys_matched = property_filter_count
)

select * from final
