-- Usage per segment, charge and group (a charge without group_by is one group), aggregated as
-- the charge says, with the group's price (price_index). Every charge of the segment's plan
-- gets a row, with zero usage if none, because some models bill at zero usage.
--   sum / count / max / min   from the event groups
--   avg                 the sum over the count of billable events (9 decimals, half-up)
--   weighted_sum        the level's integral over the segment (quantities are changes at
--                       their instants, to the second), over the billing period's seconds
--   unique_count        the distinct non-null values of one property whose latest event (by
--                       occurred_at, then event_id) is not a removal (operation_type
--                       remove); properties are part of the group key, so the groups hold
--                       every value with its latest event
--   latest              quantity of the last billable event by occurred_at (ties: the
--                       highest event_id): the latest of the groups' own latest events
-- Also the usage projected to the end of the segment, for spend dashboards: sums and counts
-- scale by the segment's length over the time elapsed in it, in seconds up to "as of" (the
-- latest event, stg_lake__as_of); max, min, avg, unique_count and latest are levels, not
-- flows, and stay as they are.
-- A recurring charge (sum, unique_count, weighted_sum) also counts every matching event before
-- its segment: the state carried to the period's start (int_usage_carried) and the period's own
-- days before the segment. carried_units is that part of a sum (or the level a weighted_sum
-- starts the segment at); it is not projected.
-- Charges priced apart from their units carry priced_amount, the exact amount: a bucketed
-- charge (int_invoice_buckets: its units are the sum of its buckets' values) and a percentage
-- charge priced event by event (int_invoice_event_fees). elapsed_seconds and segment_seconds
-- let the invoice lines project them.
-- Incremental by billing period, over the periods whose inputs changed.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}

with

segments as (
    select *
    from {{ ref('int_subscription_segments') }}
    where {{ period_in('period_start', periods) }}
),

charges as (select * from {{ ref('stg_pricing__charges') }}),
prices as (select * from {{ ref('stg_pricing__charge_prices') }}),

-- group_id: a grouped charge's group key ('' for a charge without group_by), to join on.
usage as (
    select *, coalesce(group_key, '') as group_id
    from {{ ref('int_usage_charged') }}
    where charge_id is not null and {{ date_in_periods('usage_date', periods) }}
),

matched as (select * from {{ ref('int_charge_signatures_matched') }}),

groups as (
    select *
    from {{ ref('int_usage_event_groups') }}
    where {{ date_in_periods('usage_date', periods) }}
),

fingerprints as (select * from {{ ref('int_period_fingerprints') }}),
as_of as (select * from {{ ref('stg_lake__as_of') }}),

buckets as (
    select *, coalesce(group_key, '') as group_id
    from {{ ref('int_invoice_buckets') }}
    where {{ period_in('period_start', periods) }}
),

event_fees as (
    select *, coalesce(group_key, '') as group_id
    from {{ ref('int_invoice_event_fees') }}
    where {{ period_in('period_start', periods) }}
),

recurring as (select * from charges where recurring),

-- What a recurring charge counts from before its segment: the state at its period's first day
-- (int_usage_carried: every day before it) and the period's own days before the segment.
earlier as (
    select
        s.segment_id,
        st.metric,
        st.status_key,
        st.properties_key,
        st.quantity,
        st.latest_occurred_at,
        st.latest_event_id
    from segments as s
    inner join {{ ref('int_usage_carried') }} as st
        on s.customer_id = st.customer_id
        and s.period_start = st.period_start
    where {{ period_in('st.period_start', periods) }}
    union all
    select
        s.segment_id,
        d.metric,
        d.status_key,
        d.properties_key,
        d.quantity,
        d.latest_occurred_at,
        d.latest_event_id
    from segments as s
    inner join {{ ref('int_usage_daily') }} as d
        on s.customer_id = d.customer_id
        and d.usage_date >= s.period_start
        and d.usage_date < s.segment_start
    where {{ date_in_periods('d.usage_date', periods) }}
        and d.metric in (select metric from recurring)
),

before_segment as (
    select
        s.segment_id,
        r.charge_id,
        coalesce(m.group_key, '') as group_id,
        m.price_index,
        e.properties_key,
        e.quantity,
        e.latest_occurred_at,
        e.latest_event_id
    from segments as s
    inner join recurring as r
        on s.plan_id = r.plan_id
        and s.plan_version = r.plan_version
    inner join earlier as e
        on s.segment_id = e.segment_id
        and r.metric = e.metric
    inner join matched as m
        on s.plan_id = m.plan_id
        and s.plan_version = m.plan_version
        and r.charge_id = m.charge_id
        and e.metric = m.metric
        and e.status_key = m.status_key
        and e.properties_key = m.properties_key
),

carried_by_charge as (
    select segment_id, charge_id, group_id, sum(quantity) as carried_quantity
    from before_segment
    group by 1, 2, 3
),

-- unique_count: each value's latest event, from the segment's groups and (recurring) before.
id_events as (
    select u.segment_id, u.charge_id, u.group_id, u.properties_key, u.latest_occurred_at, u.latest_event_id
    from usage as u
    union all
    select segment_id, charge_id, group_id, properties_key, latest_occurred_at, latest_event_id
    from before_segment
),

ids_ranked as (
    select
        i.segment_id,
        i.charge_id,
        i.group_id,
        {{ json_get('i.properties_key', "'operation_type'") }} as operation,
        row_number() over (
            partition by i.segment_id, i.charge_id, i.group_id, {{ json_get('i.properties_key', 'c.unique_property') }}
            order by i.latest_occurred_at desc, i.latest_event_id desc
        ) as recency
    from id_events as i
    inner join segments as s on i.segment_id = s.segment_id
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
        and i.charge_id = c.charge_id
    where c.aggregation = 'unique_count'
        and {{ json_get('i.properties_key', 'c.unique_property') }} is not null
),

ids_added as (
    select segment_id, charge_id, group_id, count(*) as unique_values
    from ids_ranked
    where recency = 1 and coalesce(operation, '') <> 'remove'
    group by 1, 2, 3
),

usage_by_charge as (
    select
        u.segment_id,
        u.charge_id,
        u.group_id,
        sum(u.events) as billable_events,
        sum(u.quantity) as sum_quantity,
        -- weighted_sum: the level's integral to the segment's end, in units x seconds. Each
        -- day's quantities hold from their instants: sum x (end - day start) - quantity_seconds.
        sum(
            u.quantity * ({{ date_epoch_seconds('s.segment_end') }} - {{ date_epoch_seconds('u.usage_date') }})
            - u.quantity_seconds
        ) as level_seconds,
        max(u.max_quantity) as max_quantity,
        min(u.min_quantity) as min_quantity
    from usage as u
    inner join charges as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    inner join segments as s on u.segment_id = s.segment_id
    group by 1, 2, 3
),

latest_charges as (
    select m.*
    from matched as m
    inner join charges as c
        on m.plan_id = c.plan_id
        and m.plan_version = c.plan_version
        and m.charge_id = c.charge_id
    where c.aggregation = 'latest'
),

latest_ranked as (
    select
        g.segment_id,
        lc.charge_id,
        coalesce(lc.group_key, '') as group_id,
        g.latest_quantity as quantity,
        row_number() over (
            partition by g.segment_id, lc.charge_id, coalesce(lc.group_key, '')
            order by g.latest_occurred_at desc, g.latest_event_id desc
        ) as recency
    from groups as g
    inner join latest_charges as lc
        on g.plan_id = lc.plan_id
        and g.plan_version = lc.plan_version
        and g.metric = lc.metric
        and g.status_key = lc.status_key
        and g.properties_key = lc.properties_key
),

latest_usage as (
    select segment_id, charge_id, group_id, quantity as latest_quantity
    from latest_ranked
    where recency = 1
),

-- The lines of each segment and charge: one per group with usage (or, for a recurring
-- charge, with usage before the segment), and for a charge with none, one for the whole
-- charge at its own price. The group's price: the first group price its values match.
charge_groups as (
    select segment_id, charge_id, group_id, coalesce(price_index, 0) as price_index from usage
    union
    select segment_id, charge_id, group_id, coalesce(price_index, 0) as price_index from before_segment
),

lines as (
    select s.segment_id, c.charge_id, coalesce(g.group_id, '') as group_id, coalesce(g.price_index, 0) as price_index
    from segments as s
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
    left join charge_groups as g
        on s.segment_id = g.segment_id
        and c.charge_id = g.charge_id
),

measured as (
    {#- a weighted_sum's integral, in units x seconds: the segment's changes and the level it
        started at (a recurring charge's carried level) held all the segment #}
    {%- set level_seconds = 'coalesce(u.level_seconds, 0) + coalesce(cc.carried_quantity, 0) * 86400 * s.segment_days' %}
    select
        s.segment_id,
        s.customer_id,
        s.period_start,
        s.plan_id,
        s.plan_version,
        c.charge_id,
        l.group_id,
        l.price_index,
        c.aggregation,
        coalesce(u.billable_events, 0) as billable_events,
        -- A weighted_sum level that ended below zero: priced as 0 (finding negative_level).
        c.aggregation = 'weighted_sum' and {{ level_seconds }} < 0 as level_below_zero,
        -- Each branch is cast on its own so that no engine's CASE type unification can
        -- change the scale of a fractional quantity.
        c.bucket,
        case
            when c.bucket is not null then coalesce(b.raw_amount, 0)
            when {{ priced_by_event('p') }}
                then coalesce(ef.raw_amount, 0)
        end as priced_amount,
        case when c.bucket is not null then cast(coalesce(b.units, 0) as {{ quantity_type() }})
        else case c.aggregation
            when 'sum' then cast(
                coalesce(u.sum_quantity, 0) + coalesce(cc.carried_quantity, 0) as {{ quantity_type() }}
            )
            when 'count' then cast(coalesce(u.billable_events, 0) as {{ quantity_type() }})
            when 'max' then cast(coalesce(u.max_quantity, 0) as {{ quantity_type() }})
            when 'min' then cast(coalesce(u.min_quantity, 0) as {{ quantity_type() }})
            when 'weighted_sum' then cast(
                {{ scale_quantity('greatest(' ~ level_seconds ~ ', 0)', '1', '86400 * coalesce(s.rating_days, s.period_days)') }}
                as {{ quantity_type() }}
            )
            when 'avg' then cast(coalesce(
                {{ scale_quantity('u.sum_quantity', '1', 'u.billable_events') }}, 0
            ) as {{ quantity_type() }})
            when 'unique_count' then cast(coalesce(ia.unique_values, 0) as {{ quantity_type() }})
            -- floored at 0: a signed metric's last value may be negative (bills 0)
            when 'latest' then cast(greatest(coalesce(lu.latest_quantity, 0), 0) as {{ quantity_type() }})
        end end as units,
        cast(
            case when c.aggregation = 'sum' then coalesce(cc.carried_quantity, 0) else 0 end
            as {{ quantity_type() }}
        ) as carried_units,
        86400 * s.segment_days as segment_seconds,
        a.as_of_epoch_seconds - {{ date_epoch_seconds('s.segment_start') }} as seconds_since_start
    from segments as s
    cross join as_of as a
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
    inner join lines as l
        on s.segment_id = l.segment_id
        and c.charge_id = l.charge_id
    inner join prices as p
        on c.plan_id = p.plan_id
        and c.plan_version = p.plan_version
        and c.charge_id = p.charge_id
        and l.price_index = p.price_index
    {%- for relation in ['usage_by_charge as u', 'carried_by_charge as cc', 'ids_added as ia', 'latest_usage as lu', 'buckets as b', 'event_fees as ef'] %}
    {%- set alias = relation.split(' as ')[1] %}
    left join {{ relation }}
        on l.segment_id = {{ alias }}.segment_id
        and l.charge_id = {{ alias }}.charge_id
        and l.group_id = {{ alias }}.group_id
    {%- endfor %}
),

-- Time of the segment with data so far, in seconds: none before it starts, all of it once it
-- has ended (or while there is no usage data at all), and never less than an hour in between:
-- a few minutes' usage would otherwise project to thousands of times itself.
elapsed as (
    select
        *,
        case
            when seconds_since_start is null or seconds_since_start >= segment_seconds
                then segment_seconds
            when seconds_since_start <= 0 then 0
            when seconds_since_start < 3600 then 3600
            else seconds_since_start
        end as elapsed_seconds
    from measured
),

final as (
    select
        segment_id,
        customer_id,
        period_start,
        plan_id,
        plan_version,
        charge_id,
        nullif(group_id, '') as group_key,
        price_index,
        aggregation,
        billable_events,
        level_below_zero,
        units,
        carried_units,
        priced_amount,
        elapsed_seconds,
        segment_seconds,
        case
            -- a bucketed charge projects its amount, not its units (int_invoice_lines_rated)
            when aggregation not in ('sum', 'count') or bucket is not null
                or elapsed_seconds in (0, segment_seconds)
                then units
            else carried_units + {{ scale_quantity('units - carried_units', 'segment_seconds', 'elapsed_seconds') }}
        end as projected_units,
        case
            when elapsed_seconds in (0, segment_seconds)
                then cast(billable_events as {{ quantity_type() }})
            else {{ scale_quantity('billable_events', 'segment_seconds', 'elapsed_seconds') }}
        end as projected_billable_events
    from elapsed
)

select
    final.*,
    f.fingerprint as rated_with
from final
left join fingerprints as f on final.period_start = f.period_start
