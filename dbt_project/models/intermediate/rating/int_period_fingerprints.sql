-- One digest per billing period of everything rating that period reads, for the models
-- incremental by period (macros/incremental/by_period.sql). A period is a first day and the
-- latest end of the invoice periods starting that day (int_subscription_segments), or a
-- calendar month holding events. Its digest covers the events the batches recorded on each
-- of its days, the subscription segments over its days (a day's usage belongs to the period
-- of the segment holding it), the price book rows of the plan versions its own segments are
-- rated under, and "as of" as far as it reaches into the period. When the price book has a
-- recurring charge (its scope reaches back over earlier periods), also the metrics carried and
-- the events of every earlier day. A period whose digest changed is rated again; the others
-- are left as they were built.
-- `layout` names what a period's rows mean: changing it rates every period again once (an
-- upgrade that changes the rows, not the inputs).
{%- set charges = ref('stg_pricing__charges') %}
{%- set tiers = ref('stg_pricing__charge_tiers') %}
{%- set status_filters = ref('stg_pricing__charge_status_filters') %}
{%- set property_filters = ref('stg_pricing__charge_property_filters') %}
{%- set segments = ref('int_subscription_segments') %}
with

batch_days as (select * from {{ ref('stg_lake__batch_days') }}),
segments as (select * from {{ segments }}),

as_of as (select * from {{ ref('stg_lake__as_of') }}),

event_days as (select event_date, sum(events) as events from batch_days group by 1),

periods as (
    select period_start, max(period_end) as period_end
    from (
        select period_start, period_end from segments
        union all
        select distinct {{ month_start('event_date') }}, {{ add_months(month_start('event_date'), 1) }}
        from event_days
    ) as p
    group by 1
),

days as (
    select p.period_start, {{ row_text(["'day'", 'd.event_date', 'd.events']) }} as part
    from periods as p
    inner join event_days as d
        on d.event_date >= p.period_start
        and d.event_date < p.period_end
),

segment_rows as (
    select p.period_start, {{ row_text(["'segment'"] + columns_of(segments, 's')) }} as part
    from periods as p
    inner join segments as s
        on s.segment_start < p.period_end
        and s.segment_end > p.period_start
),

versions as (
    select distinct period_start, plan_id, plan_version from segments
),

pricing_rows as (
    {%- for name, relation in [('charge', charges), ('tier', tiers), ('status', status_filters), ('property', property_filters)] %}
    select v.period_start, {{ row_text(["'" ~ name ~ "'"] + columns_of(relation, 'r')) }} as part
    from versions as v
    inner join {{ relation }} as r
        on v.plan_id = r.plan_id
        and v.plan_version = r.plan_version
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

reach as (
    -- How far the data reaches into the period, to the second: the projection follows it.
    select
        p.period_start,
        {{ row_text(["'as_of'", 'least(a.as_of_epoch_seconds, ' ~ date_epoch_seconds('p.period_end') ~ ')']) }} as part
    from periods as p
    cross join as_of as a
),

layout as (
    select period_start, {{ row_text(["'layout'", "'cadence periods'"]) }} as part
    from periods
),

recurring_metrics as (
    select distinct metric from {{ charges }} where recurring
),

carried as (
    -- the events recorded before the period, and each metric carried over
    select p.period_start, {{ row_text(["'carried'", 'coalesce(sum(d.events), 0)']) }} as part
    from periods as p
    cross join (select distinct 1 as carrying from recurring_metrics) as r
    left join batch_days as d on d.event_date < p.period_start
    group by 1
    union all
    select p.period_start, {{ row_text(["'recurring'", 'r.metric']) }} as part
    from periods as p
    cross join recurring_metrics as r
),

parts as (
    select * from days
    union all
    select * from segment_rows
    union all
    select * from pricing_rows
    union all
    select * from reach
    union all
    select * from carried
    union all
    select * from layout
)

select p.period_start, p.period_end, f.fingerprint
from periods as p
inner join (
    select period_start, {{ digest_of('part') }} as fingerprint
    from parts
    group by 1
) as f on p.period_start = f.period_start
