-- Ids used more than once, found per usage date as the id index grows. For each date a build
-- rebuilds, one marker row (id_hash null) holds the events indexed that day, so the next build
-- knows which dates changed; every hash of that date also held elsewhere in the index gets a
-- row naming the other date. A nightly build looks the new dates' hashes up in the index (a
-- join built on the new hashes, probing the index once) instead of grouping all of history;
-- the first build finds the repeated hashes of the whole index once (repeated_values).
{{ config(**usage_date_incremental()) }}

-- depends_on: {{ ref('stg_lake__batch_days') }}
{%- set dates = usage_dates_to_rebuild(this) if is_incremental() else none %}

with

id_index as (select * from {{ ref('int_event_ids') }}),

fresh as (
    select usage_date, id_hash
    from id_index
    where {{ date_in('usage_date', dates) }}
),

markers as (
    select
        usage_date,
        cast(null as {{ id_hash_type() }}) as id_hash,
        cast(null as date) as other_date,
        count(*) as events
    from fresh
    group by 1
),

{% if dates is none %}
candidates as (
    -- The first build: every hash held more than once, and where.
    select i.usage_date, i.id_hash
    from id_index as i
    where i.id_hash in ({{ repeated_values('id_index', 'id_hash') }})
),
{% else %}
candidates as (
    select usage_date, id_hash from fresh
),
{% endif %}

repeats as (
    select
        c.usage_date,
        c.id_hash,
        i.usage_date as other_date,
        0 as events
    from candidates as c
    inner join id_index as i on c.id_hash = i.id_hash
    group by 1, 2, 3
    having count(*) > 1 or c.usage_date <> i.usage_date
)

select * from markers
union all
select * from repeats
