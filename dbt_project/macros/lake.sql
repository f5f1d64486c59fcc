{#- Reading the lake's files themselves, beyond what its sources give. -#}

{# The glob of a lake source table's files (its `files` meta under the profile's lake). #}
{% macro lake_files(table) -%}
    {%- if execute -%}
        {%- for node in graph.sources.values() if node.source_name == 'lake' and node.name == table -%}
            {{ target.external_root }}/{{ node.meta.files }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# Events per ingest batch in the lake, as a query (batch_id, events). On DuckDB the counts
   come from the Parquet footers of every event file: no file's data is read, so the check
   that the lake holds each batch's events costs the number of files, not of events. #}
{% macro lake_events_per_batch() -%}
    {{ return(adapter.dispatch('lake_events_per_batch', 'tally')()) }}
{%- endmacro %}
{% macro default__lake_events_per_batch() -%}
    select batch_id, count(*) as events
    from {{ ref('stg_lake__usage_events') }}
    group by 1
{%- endmacro %}
{% macro duckdb__lake_events_per_batch() -%}
    -- depends_on: {{ ref('stg_lake__usage_events') }}
    select
        regexp_extract(file_name, 'batch-([0-9a-f]+)', 1) as batch_id,
        sum(num_rows) as events
    from parquet_file_metadata('{{ lake_files("usage_events") }}')
    where num_rows > 0
    group by 1
{%- endmacro %}
