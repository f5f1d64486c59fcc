-- One digest per billing period of everything rating that period reads, for the models
-- incremental by period (see macros/incremental.sql): the events the batches recorded on each
-- of its days, its subscription segments, the price book rows of the plan versions in force
-- in it, and "as of" as far as it reaches into the period. When the price book has a recurring
-- charge (its scope reaches back over earlier periods), also the metrics carried and the events
-- of every earlier day. A period whose digest changed is rated again; the others are left as
-- they were built.
{%- set charges = ref('stg_pricing__charges') %}
{%- set tiers = ref('stg_pricing__charge_tiers') %}
{%- set status_filters = ref('stg_pricing__charge_status_filters') %}
{%- set property_filters = ref('stg_pricing__charge_property_filters') %}
{%- set segments = ref('int_subscription_segments') %}
with

batch_days as (select * from {{ ref('stg_lake__batch_days') }}),
segments as (select * from {{ segments }}),

as_of as (select * from {{ ref('stg_lake__as_of') }}),

days as (
    select
        {{ month_start('event_date') }} as period_start,
        {{ row_text(["'day'", 'event_date', 'events']) }} as part
    from (select event_date, sum(events) as events from batch_days group by 1) as d
),

segment_rows as (
    select s.period_start, {{ row_text(["'segment'"] + columns_of(segments, 's')) }} as part
    from segments as s
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

periods as (
    select period_start from days
    union
    select period_start from segments
),

reach as (
    -- How far the data reaches into the period, to the second: the projection follows it.
    select
        p.period_start,
        {{ row_text(["'as_of'", 'least(a.as_of_epoch_seconds, ' ~ date_epoch_seconds(add_months('p.period_start', 1)) ~ ')']) }} as part
    from periods as p
    cross join as_of as a
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
)

select period_start, {{ digest_of('part') }} as fingerprint
from parts
group by 1
