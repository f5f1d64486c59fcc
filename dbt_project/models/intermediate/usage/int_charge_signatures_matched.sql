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
        where period_start = (select max(latest.period_start) from carried as latest)
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

billed as (
    select plan_id, plan_version, metric, status_key, properties_key, charge_id
    from property_matches
    where keys_matched = property_filter_count
),

-- A grouped charge: the signature's group, and the first group price whose match holds
-- (every property it names has one of its values), else the charge's own (price_index 0).
grouped as (
    select b.*, {{ group_key('b.properties_key', 'c') }} as group_key
    from billed as b
    inner join charges as c
        on b.plan_id = c.plan_id
        and b.plan_version = c.plan_version
        and b.charge_id = c.charge_id
),

group_matches as (select * from {{ ref('stg_pricing__charge_group_matches') }}),

entry_sizes as (
    select plan_id, plan_version, charge_id, price_index, count(distinct property_key) as keys
    from group_matches
    group by 1, 2, 3, 4
),

entry_hits as (
    select
        g.plan_id,
        g.plan_version,
        g.metric,
        g.status_key,
        g.properties_key,
        g.charge_id,
        m.price_index,
        count(distinct m.property_key) as keys_held
    from grouped as g
    inner join group_matches as m
        on g.plan_id = m.plan_id
        and g.plan_version = m.plan_version
        and g.charge_id = m.charge_id
        and {{ json_get('g.properties_key', 'm.property_key') }} = m.property_value
    where g.group_key is not null
    group by 1, 2, 3, 4, 5, 6, 7
),

chosen as (
    select h.plan_id, h.plan_version, h.metric, h.status_key, h.properties_key, min(h.price_index) as price_index
    from entry_hits as h
    inner join entry_sizes as z
        on h.plan_id = z.plan_id
        and h.plan_version = z.plan_version
        and h.charge_id = z.charge_id
        and h.price_index = z.price_index
    where h.keys_held = z.keys
    group by 1, 2, 3, 4, 5
),

final as (
    select g.*, coalesce(ch.price_index, 0) as price_index
    from grouped as g
    left join chosen as ch
        on g.plan_id = ch.plan_id
        and g.plan_version = ch.plan_version
        and g.metric = ch.metric
        and g.status_key = ch.status_key
        and g.properties_key = ch.properties_key
)

select * from final
