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
