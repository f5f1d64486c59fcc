{#-
  Incremental builds over usage dates. The lake records what every committed batch added to
  each event date (stg_lake__batch_days); a daily model holds, per date, the events it was
  built from. The dates to rebuild are those where the two disagree: the dates new batches
  touched, and any date a crash or a hand edit left behind. Each run reads only those dates'
  folders of the lake; a full refresh (or the first build) reads every date.
-#}

{# The configuration of a model incremental by usage date, on either engine: delete+insert of
   the rebuilt dates on DuckDB, insert_overwrite of their partitions on Spark. A change of its
   columns fails the run (rebuild with `tally run --full-refresh`) instead of leaving old dates
   with empty columns. Use: {{ config(**usage_date_incremental()) }} #}
{% macro usage_date_incremental() -%}
    {{ return(incremental_by('usage_date')) }}
{%- endmacro %}

{# The usage dates `model` must rebuild, as a list of 'YYYY-MM-DD' strings (at execution). #}
{% macro usage_dates_to_rebuild(model, events_column='events') -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with recorded as (
            select event_date as usage_date, sum(events) as events
            from {{ ref('stg_lake__batch_days') }}
            group by 1
        ),
        built as (
            select usage_date, sum({{ events_column }}) as events
            from {{ model }}
            group by 1
        )
        select cast(coalesce(r.usage_date, b.usage_date) as {{ dbt.type_string() }}) as usage_date
        from recorded as r
        full outer join built as b on r.usage_date = b.usage_date
        where coalesce(r.events, 0) <> coalesce(b.events, 0)
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{# How `model` (a daily aggregate with `events` and `folded_through`, the commit time of the
   last batch folded into each date) catches up with the lake, at execution:
     merge    dates it can update from the new batches alone: batches committed after the
              date's folded_through whose events, added to the date's, give the lake's count;
     rebuild  every other date where the model and the lake disagree (a crash, a hand edit, a
              batch removed, a clock that went back): rebuilt from all of the date's events;
     batches  the new batches of the merged dates, whose events are the only ones read for them.
   A batch is never folded twice: only batches committed after a date's folded_through are
   read, and unless their events make up the whole difference the date is rebuilt. #}
{% macro usage_dates_to_update(model) -%}
    {%- set plan = {'merge': [], 'rebuild': [], 'batches': []} -%}
    {%- if not execute -%}{{ return(plan) }}{%- endif -%}
    {#- A table an earlier version built without folded_through: the build stops on its
        columns (on_schema_change) and says to rebuild with --full-refresh. -#}
    {%- set columns = adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list -%}
    {%- if 'folded_through' not in columns -%}{{ return(plan) }}{%- endif -%}
    {%- set sql -%}
        with built as (
            select usage_date, sum(events) as events, max(folded_through) as folded_through
            from {{ model }}
            group by 1
        ),
        batches as (
            select
                d.event_date as usage_date,
                d.batch_id,
                d.events,
                case when d.ingested_at > b.folded_through then 1 else 0 end as is_new
            from {{ ref('stg_lake__batch_days') }} as d
            left join built as b on d.event_date = b.usage_date
        ),
        recorded as (
            select usage_date, sum(events) as events, sum(events * is_new) as new_events
            from batches
            group by 1
        ),
        plan as (
            select
                coalesce(r.usage_date, b.usage_date) as usage_date,
                case
                    when b.events > 0 and r.new_events > 0 and b.events + r.new_events = r.events
                        then 'merge'
                    else 'rebuild'
                end as how
            from recorded as r
            full outer join built as b on r.usage_date = b.usage_date
            where coalesce(r.events, 0) <> coalesce(b.events, 0)
        )
        select
            cast(p.usage_date as {{ dbt.type_string() }}) as usage_date,
            p.how,
            n.batch_id
        from plan as p
        left join batches as n
            on p.how = 'merge' and n.usage_date = p.usage_date and n.is_new = 1
        order by 1, 3
    {%- endset -%}
    {%- for row in run_query(sql).rows -%}
        {%- set dates = plan[row[1]] -%}
        {%- if row[0] not in dates -%}{%- do dates.append(row[0]) -%}{%- endif -%}
        {%- if row[2] is not none and row[2] not in plan['batches'] -%}
            {%- do plan['batches'].append(row[2]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(plan) }}
{%- endmacro %}

{# A filter on a date column: in `dates` (strings), or nothing at all when `dates` is none. #}
{% macro date_in(column, dates) -%}
    {%- if dates is none -%}
        1 = 1
    {%- elif dates | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
            {%- for d in dates %}cast('{{ d }}' as date){{ "," if not loop.last }}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{# A filter on a string column: in `values`, none of them when the list is empty. #}
{% macro text_in(column, values) -%}
    {%- if values | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in (
            {%- for v in values %}'{{ v | replace("'", "''") }}'{{ "," if not loop.last }}{% endfor -%}
        )
    {%- endif -%}
{%- endmacro %}

{#- Models that keep the events (or hours) of only the metrics some charges price: the
    hourly aggregate (charges bucketed by the hour) and the events kept one by one (charges
    priced event by event). `charges_where` is a condition on stg_pricing__charges. -#}

{# The metrics the charges `charges_where` of any plan or version price (at execution). #}
{% macro charge_metrics(charges_where) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {#- nothing to ask before the price book's view exists (a linter compiling the project) -#}
    {%- set charges = ref('stg_pricing__charges') -%}
    {%- if adapter.get_relation(charges.database, charges.schema, charges.identifier) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set sql -%}
        select distinct metric from {{ charges }}
        where {{ charges_where }}
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{# The usage dates `model` must rebuild: those where its events differ from the daily
   aggregate's events of `metrics` (either side may be missing). #}
{% macro metric_dates_to_rebuild(model, metrics) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with expected as (
            select usage_date, sum(events) as events
            from {{ ref('int_usage_daily') }}
            where {{ text_in('metric', metrics) }}
            group by 1
        ),
        built as (
            select usage_date, sum(events) as events
            from {{ model }}
            group by 1
        )
        select cast(coalesce(e.usage_date, b.usage_date) as {{ dbt.type_string() }})
        from expected as e
        full outer join built as b on e.usage_date = b.usage_date
        where coalesce(e.events, 0) <> coalesce(b.events, 0)
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{# The configuration of such a model: incremental by usage date, and the dates it rebuilds
   emptied first (a date whose metric no longer qualifies rebuilds to no rows at all, which
   delete+insert and insert_overwrite would leave as they were). #}
{% macro metric_date_incremental(charges_where) -%}
    {%- set config = incremental_by('usage_date') -%}
    {%- do config.update({'pre_hook': ["{{ clear_metric_dates(this, " ~ charges_where | tojson ~ ") }}"]}) -%}
    {{ return(config) }}
{%- endmacro %}

{% macro clear_metric_dates(relation, charges_where) -%}
    {%- if is_incremental() -%}
        {%- set dates = metric_dates_to_rebuild(relation, charge_metrics(charges_where)) -%}
        {%- if dates | length > 0 -%}
            {{ adapter.dispatch('clear_dates', 'tally')(relation, dates) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
{% macro default__clear_dates(relation, dates) -%}
    delete from {{ relation }} where {{ date_in('usage_date', dates) }}
{%- endmacro %}
{% macro spark__clear_dates(relation, dates) -%}
    {%- do empty_partitions(relation, 'usage_date', dates) -%}
{%- endmacro %}

{# The charges rated event by event: percentage charges with a free allowance or per-event
   bounds (a condition on stg_pricing__charges, its columns under `alias` when given). #}
{% macro priced_by_event(alias=none) -%}
    {%- set c = alias ~ '.' if alias else '' -%}
    {%- set terms = ['free_events', 'free_amount', 'per_event_min', 'per_event_max'] -%}
    {{- c }}model = 'percentage' and ({% for t in terms %}{{ c ~ t }} is not null{{ ' or ' if not loop.last }}{% endfor %})
{%- endmacro %}
