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

{# A model incremental by `key` (a date column), on either engine: delete+insert of the rebuilt
   keys on DuckDB, insert_overwrite of their partitions on Spark; its table in the incremental
   store unless `apart` is false. #}
{% macro incremental_by(key, apart=true) -%}
    {{ return({
        'materialized': 'incremental',
        'unique_key': key,
        'incremental_strategy': 'insert_overwrite' if target.type == 'spark' else 'delete+insert',
        'partition_by': [key] if target.type == 'spark' else none,
        'on_schema_change': 'fail',
        'database': incremental_database() if apart else none,
    }) }}
{%- endmacro %}

{# Where the incremental models' tables live on DuckDB: the database the profile attaches as
   `incremental` (warehouse/incremental.duckdb), updated in place, so that the copy of the
   warehouse each build makes holds the marts, not the tables that grow with history. None
   elsewhere (the target's own database). #}
{% macro incremental_database() -%}
    {{ return('incremental' if target.type == 'duckdb' else none) }}
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

{#-
  Incremental builds over billing periods (UTC calendar months), for the models between the
  daily aggregate and the invoices. int_period_fingerprints digests, per period, everything
  its rating reads: the events the batches recorded on its days, its subscription segments,
  the price book rows of the plan versions in force, and how far "as of" reaches into it.
  Each model keeps the digest it was built with (`rated_with`) and rebuilds the periods whose
  digest changed: late events re-rate their month, a price change the months under the
  changed plan versions, a new night the open month. Like the dates above, self-correcting:
  a period a crash left half built does not match and is rebuilt next time.
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
    delete from {{ relation }} where {{ date_in_periods('period_start', periods) }}
{%- endmacro %}
{# Spark: each period's partition overwritten with no rows, one statement per period (run here;
   the hook itself is then empty). Dropping a partition is not allowed on the lake's tables
   (spark.sql.hive.manageFilesourcePartitions is off), and an insert_overwrite of no rows
   leaves the partition as it was; a static partition overwritten with nothing is emptied. #}
{% macro spark__clear_periods(relation, periods) -%}
    {%- set columns = adapter.get_columns_in_relation(relation)
        | rejectattr('name', 'equalto', 'period_start') | list -%}
    {%- for p in periods -%}
        {%- set nothing -%}
            insert overwrite table {{ relation }} partition (period_start = '{{ p }}')
            select
            {%- for c in columns %} cast(null as {{ c.data_type }}) as {{ c.name }}{{ "," if not loop.last }}{% endfor %}
            where false
        {%- endset -%}
        {%- do run_query(nothing) -%}
    {%- endfor -%}
{%- endmacro %}

{# The periods `model` must rebuild (first days of months, 'YYYY-MM-DD' strings): those whose
   digest in int_period_fingerprints differs from the one the model was built with, or that
   the model holds and no longer has a digest. #}
{% macro periods_to_rebuild(model) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with built as (
            select period_start, max(rated_with) as rated_with
            from {{ model }}
            group by 1
        )
        select cast(coalesce(f.period_start, b.period_start) as {{ dbt.type_string() }})
        from {{ ref('int_period_fingerprints') }} as f
        full outer join built as b on f.period_start = b.period_start
        where coalesce(f.fingerprint, '') <> coalesce(b.rated_with, '')
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}

{# A filter on a date column: within one of `periods` (first days of months, as strings), as
   ranges the engines can prune on; nothing at all when `periods` is none. #}
{% macro date_in_periods(column, periods) -%}
    {%- if periods is none -%}
        1 = 1
    {%- elif periods | length == 0 -%}
        1 = 0
    {%- else -%}
        ({%- for p in periods %}
            {%- set start = modules.datetime.date.fromisoformat(p) -%}
            {%- set next = (start.replace(day=28) + modules.datetime.timedelta(days=4)).replace(day=1) -%}
            ({{ column }} >= cast('{{ start }}' as date) and {{ column }} < cast('{{ next }}' as date))
            {{- " or " if not loop.last }}
        {%- endfor -%})
    {%- endif -%}
{%- endmacro %}

{# A digest of text values, the same whatever their order (an aggregate). #}
{% macro digest_of(text_expr) -%}
    {{ return(adapter.dispatch('digest_of', 'tally')(text_expr)) }}
{%- endmacro %}
{% macro default__digest_of(text_expr) -%}
    md5(string_agg({{ text_expr }}, chr(10) order by {{ text_expr }}))
{%- endmacro %}
{% macro spark__digest_of(text_expr) -%}
    md5(concat_ws(chr(10), array_sort(collect_list({{ text_expr }}))))
{%- endmacro %}

{# One text of a row's `columns` (names, or expressions), nulls marked apart from any value. #}
{% macro row_text(columns) -%}
    concat_ws('|'
    {%- for c in columns %}, coalesce(cast({{ c }} as {{ dbt.type_string() }}), '\N'){% endfor -%}
    )
{%- endmacro %}

{# The columns of a relation built earlier in the run, as `alias.name` (at execution). #}
{% macro columns_of(relation, alias) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do names.append(alias ~ '.' ~ column.name) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
