{#-
  Incremental builds over billing periods, for the models between the daily aggregate and the
  invoices. A period is identified by its first day (`period_start`, the partition) and reaches
  to the latest end of the invoice periods starting that day (a calendar month, quarter or
  year, an anniversary period; usage outside any subscription falls in its calendar month).
  int_period_fingerprints digests, per period, everything its rating reads: the events the
  batches recorded on its days, the subscription segments over them, the price book rows of
  the plan versions in force, and how far "as of" reaches into it. Each model keeps the
  digest it was built with (`rated_with`) and rebuilds the periods whose digest changed: late
  events re-rate the periods holding their day, a price change the periods under the changed
  plan versions, a new night the open periods. Like the dates above, self-correcting: a
  period a crash left half built does not match and is rebuilt next time.
-#}

{# The configuration of a model incremental by billing period, on either engine; a mart
   (`apart=false`) stays in the warehouse analysts read. The periods it rebuilds are emptied
   first: delete+insert and insert_overwrite replace only the periods the new rows hold, so a
   period that now rates to no rows at all (every subscription of the month gone from the
   reference data) would otherwise keep its old rows. #}
{% macro period_incremental(apart=true) -%}
    {%- set config = incremental_by('period_start', apart) -%}
    {%- do config.update({'pre_hook': ["{{ clear_periods_to_rebuild(this) }}"]}) -%}
    {{ return(config) }}
{%- endmacro %}

{# Empties the periods `relation` is about to rebuild (a pre-hook; nothing on a first build or
   a full refresh, which replace the table). On DuckDB a delete inside the build's transaction. #}
{% macro clear_periods_to_rebuild(relation) -%}
    {%- if is_incremental() -%}
        {%- set periods = periods_to_rebuild(relation) -%}
        {%- if periods | length > 0 -%}
            {{ adapter.dispatch('clear_periods', 'tally')(relation, periods) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
{% macro default__clear_periods(relation, periods) -%}
    delete from {{ relation }} where {{ period_in('period_start', periods) }}
{%- endmacro %}
{# Spark: each period's partition overwritten with no rows, one statement per period (run here;
   the hook itself is then empty). Dropping a partition is not allowed on the lake's tables
   (spark.sql.hive.manageFilesourcePartitions is off), and an insert_overwrite of no rows
   leaves the partition as it was; a static partition overwritten with nothing is emptied. #}
{% macro spark__clear_periods(relation, periods) -%}
    {%- do empty_partitions(relation, 'period_start', periods | map('first') | list) -%}
{%- endmacro %}

{# Spark: each of the `values` partitions of `column` overwritten with no rows, one statement
   each. #}
{% macro empty_partitions(relation, column, values) -%}
    {%- set columns = adapter.get_columns_in_relation(relation)
        | rejectattr('name', 'equalto', column) | list -%}
    {%- for v in values -%}
        {%- set nothing -%}
            insert overwrite table {{ relation }} partition ({{ column }} = '{{ v }}')
            select
            {%- for c in columns %} cast(null as {{ c.data_type }}) as {{ c.name }}{{ "," if not loop.last }}{% endfor %}
            where false
        {%- endset -%}
        {%- do run_query(nothing) -%}
    {%- endfor -%}
{%- endmacro %}

{# The periods `model` must rebuild, as [first day, end] pairs of 'YYYY-MM-DD' strings (the
   end exclusive), in order: those whose digest in int_period_fingerprints differs from the
   one the model was built with, or that the model holds and no longer has a digest (their
   rows are only removed; their end is taken a month on). #}
{% macro periods_to_rebuild(model) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with built as (
            select period_start, max(rated_with) as rated_with
            from {{ model }}
            group by 1
        )
        select
            cast(coalesce(f.period_start, b.period_start) as {{ dbt.type_string() }}) as period_start,
            cast(coalesce(f.period_end, {{ add_months('b.period_start', 1) }}) as {{ dbt.type_string() }}) as period_end
        from {{ ref('int_period_fingerprints') }} as f
        full outer join built as b on f.period_start = b.period_start
        where coalesce(f.fingerprint, '') <> coalesce(b.rated_with, '')
        order by 1
    {%- endset -%}
    {%- set periods = [] -%}
    {%- for row in run_query(sql).rows -%}
        {%- do periods.append([row[0], row[1]]) -%}
    {%- endfor -%}
    {{ return(periods) }}
{%- endmacro %}

{# A filter on a date column: within one of `periods` ([first day, end] pairs from
   periods_to_rebuild), as ranges the engines can prune on (overlapping periods merged);
   nothing at all when `periods` is none. #}
{% macro date_in_periods(column, periods) -%}
    {%- if periods is none -%}
        1 = 1
    {%- elif periods | length == 0 -%}
        1 = 0
    {%- else -%}
        {%- set ranges = [] -%}
        {%- for p in periods | sort -%}
            {%- if ranges and p[0] <= ranges[-1][1] -%}
                {%- set last = ranges.pop() -%}
                {%- do ranges.append([last[0], [last[1], p[1]] | max]) -%}
            {%- else -%}
                {%- do ranges.append([p[0], p[1]]) -%}
            {%- endif -%}
        {%- endfor -%}
        ({%- for r in ranges %}
            ({{ column }} >= cast('{{ r[0] }}' as date) and {{ column }} < cast('{{ r[1] }}' as date))
            {{- " or " if not loop.last }}
        {%- endfor -%})
    {%- endif -%}
{%- endmacro %}

{# A filter on a model's `period_start` (its partition): one of `periods`; nothing at all when
   `periods` is none. #}
{% macro period_in(column, periods) -%}
    {%- if periods is none -%}
        1 = 1
    {%- elif periods | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} in ({%- for p in periods %}cast('{{ p[0] }}' as date){{ ", " if not loop.last }}{% endfor -%})
    {%- endif -%}
{%- endmacro %}

{# The latest period `relation` holds before the first of `periods` (a 'YYYY-MM-DD' string),
   or none: the state a running model continues from. #}
{% macro period_before(relation, periods) -%}
    {%- if not execute or not periods -%}{{ return(none) }}{%- endif -%}
    {%- set sql -%}
        select cast(max(period_start) as {{ dbt.type_string() }})
        from {{ relation }}
        where period_start < cast('{{ periods[0][0] }}' as date)
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values()[0]) }}
{%- endmacro %}

{# A filter on a date column for a running state kept at each period's first day: the dates
   from the period `kept` (or from the start of history) to the last of `periods`' first
   days; every date when `periods` is none (a full build), none when it is empty. #}
{% macro dates_after_kept(column, kept, periods) -%}
    {%- if periods is none -%}
        1 = 1
    {%- elif periods | length == 0 -%}
        1 = 0
    {%- else -%}
        {{ column }} < cast('{{ periods[-1][0] }}' as date)
        {%- if kept %} and {{ column }} >= cast('{{ kept }}' as date){% endif %}
    {%- endif -%}
{%- endmacro %}
