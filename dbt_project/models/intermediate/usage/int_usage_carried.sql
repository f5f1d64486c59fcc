-- The running state of the metrics that recurring charges price: per customer and event
-- signature (metric, status, properties), at each billing period's first day, the sum of the
-- quantities of every day before it and the latest event before it. A recurring charge counts
-- every matching event before its segment's end; rating a period reads the state at its first
-- day and the period's own days, never all of history.
-- Incremental by billing period. A rebuilt period's state is the state of the last period kept
-- (the one before the first period rebuilt) plus the days since, from the daily aggregate:
-- whole months summed once, the days of the period's own month before it one by one.
-- When the price book has a recurring charge, a period's fingerprint counts the events of every
-- earlier day, so a late event rebuilds the state (and the rating) of each period after it.
{{ config(**period_incremental()) }}

{%- set periods = periods_to_rebuild(this) if is_incremental() else none %}
{%- set kept = period_before(this, periods) if is_incremental() else none %}

with

metrics as (
    select distinct metric from {{ ref('stg_pricing__charges') }} where recurring
),

targets as (
    select period_start, fingerprint
    from {{ ref('int_period_fingerprints') }}
    where {{ period_in('period_start', periods) }}
),

days as (
    select d.*
    from {{ ref('int_usage_daily') }} as d
    inner join metrics as m on d.metric = m.metric
    where {{ dates_after_kept('d.usage_date', kept, periods) }}
),

month_groups as (
    select
        customer_id,
        {{ month_start('usage_date') }} as month_start,
        metric,
        status_key,
        properties_key,
        sum(quantity) as quantity,
        {{ max_row(['latest_occurred_at', 'latest_event_id']) }} as latest
    from days
    group by 1, 2, 3, 4, 5
),

contributions as (
    select
        t.period_start,
        g.customer_id,
        g.metric,
        g.status_key,
        g.properties_key,
        g.quantity,
        g.latest.latest_occurred_at as last_at,
        g.latest.latest_event_id as last_id
    from targets as t
    inner join month_groups as g on {{ add_months('g.month_start', 1) }} <= t.period_start
    union all
    select
        t.period_start,
        d.customer_id,
        d.metric,
        d.status_key,
        d.properties_key,
        d.quantity,
        d.latest_occurred_at as last_at,
        d.latest_event_id as last_id
    from targets as t
    inner join days as d
        on d.usage_date >= {{ month_start('t.period_start') }}
        and d.usage_date < t.period_start
    {%- if kept %}
    union all
    select
        t.period_start,
        c.customer_id,
        c.metric,
        c.status_key,
        c.properties_key,
        c.quantity,
        c.latest_occurred_at as last_at,
        c.latest_event_id as last_id
    from targets as t
    cross join {{ this }} as c
    where c.period_start = cast('{{ kept }}' as date)
    {%- endif %}
),

state as (
    select
        period_start,
        customer_id,
        metric,
        status_key,
        properties_key,
        sum(quantity) as quantity,
        {{ max_row(['last_at', 'last_id']) }} as latest
    from contributions
    group by 1, 2, 3, 4, 5
)

select
    s.customer_id,
    s.metric,
    s.status_key,
    s.properties_key,
    s.quantity,
    s.latest.last_at as latest_occurred_at,
    s.latest.last_id as latest_event_id,
    s.period_start,
    t.fingerprint as rated_with
from state as s
inner join targets as t on s.period_start = t.period_start
