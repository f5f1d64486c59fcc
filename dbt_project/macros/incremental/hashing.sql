{#-
  Digests of rows and of sets of rows, the same on both engines: what a model compares to tell
  whether a period's inputs changed (incremental/by_period.sql, int_period_fingerprints).
-#}

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
