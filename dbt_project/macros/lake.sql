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

{# The lake's tables, declared for an engine that reads them through its catalog (run before
   every dbt command, `on-run-start`). DuckDB reads the files themselves (each source's
   `external_location`); Spark gets one external Parquet table per source, with the columns and
   types the source declares (models/staging/_sources.yml), so an empty folder reads as an
   empty table and a table's schema never depends on which files exist. A table is declared
   again only when its declaration changed (it carries a digest of it): one query per schema
   when nothing did, where declaring all seventeen took 10-13 s of every dbt command. #}
{% macro register_lake() -%}
    {{ return(adapter.dispatch('register_lake', 'tally')()) }}
{%- endmacro %}
{% macro default__register_lake() -%}{%- endmacro %}
{% macro spark__register_lake() -%}
    {%- if execute -%}
        {#- The lake's folder comes with the session (the profile's spark.tally.lake). -#}
        {%- set lake = run_query("set spark.tally.lake").columns[1].values()[0] -%}
        {%- set databases = run_query("show databases").columns[0].values() -%}
        {%- set declared = {} -%}
        {%- for node in graph.sources.values() -%}
            {%- set ddl = tally.lake_table_ddl(node, lake) -%}
            {%- set digest = local_md5(ddl) -%}
            {%- if node.schema not in declared -%}
                {%- if node.schema not in databases -%}
                    {%- do run_query('create database ' ~ node.schema) -%}
                {%- endif -%}
                {%- do declared.update({node.schema: tally.lake_table_digests(node.schema)}) -%}
            {%- endif -%}
            {%- if declared[node.schema].get(node.identifier) != digest -%}
                {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
                {%- call statement('register_' ~ node.identifier) -%}
                    {{ ddl }}
                    tblproperties ('tally.declared' = '{{ digest }}')
                {%- endcall -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{# The create statement of a source's table on Spark (its properties aside). #}
{% macro lake_table_ddl(node, lake) -%}
    {#- `files` is folders, then any partition folders (`*`), then the files' own glob: the table
        is the first folders, its files those the glob matches (every table a folder, as the
        metastore wants, whose files include no writer's `.tmp` left by a kill). -#}
    {%- set parts = node.meta.files.split('/') -%}
    {%- set folder = [] -%}
    {%- for part in parts[:-1] if '*' not in part -%}{%- do folder.append(part) -%}{%- endfor -%}
    {%- set partition = node.meta.get('partition_by') -%}
    {%- set body -%}
    create table {{ node.schema }}.{{ node.identifier }} (
        {%- for column in node.columns.values() %}
        {{ column.name }} {{ column.data_type }}{{ "," if not loop.last }}
        {%- endfor %}
    )
    using parquet
    {% if partition %}partitioned by ({{ partition }}){% endif %}
    options (path '{{ lake }}/{{ folder | join("/") }}', pathGlobFilter '{{ parts[-1] }}')
    {%- endset -%}
    {{ return(body) }}
{%- endmacro %}

{# The digest each table of a Spark schema was declared with: {table: digest}. #}
{% macro lake_table_digests(schema) -%}
    {%- set digests = {} -%}
    {%- for row in run_query("show table extended in " ~ schema ~ " like '*'") -%}
        {%- set found = modules.re.search("tally\.declared=([0-9a-f]+)", row['information']) -%}
        {%- do digests.update({row['tableName']: found.group(1) if found else none}) -%}
    {%- endfor -%}
    {{ return(digests) }}
{%- endmacro %}
