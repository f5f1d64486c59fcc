{#-
  The configuration every incremental model shares: its strategy on each engine, its unique key
  (a date column), and where its table lives. Each scheme (by usage date, by billing period)
  builds on it: incremental/by_date.sql, incremental/by_period.sql.
-#}

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
