{#-
  Engine-specific SQL lives here, behind adapter.dispatch, so the models run unchanged on
  DuckDB (default) and on a distributed engine (Spark) through another dbt adapter.
-#}

{# A string value of a JSON object's top-level key, or null. #}
{% macro json_get(json_column, key_column) -%}
    {{ return(adapter.dispatch('json_get', 'tally')(json_column, key_column)) }}
{%- endmacro %}
{% macro default__json_get(json_column, key_column) -%}
    json_extract_string({{ json_column }}, '$.' || {{ key_column }})
{%- endmacro %}
{% macro spark__json_get(json_column, key_column) -%}
    get_json_object({{ json_column }}, concat('$.', {{ key_column }}))
{%- endmacro %}

{# Date arithmetic is dbt's cross-database macros (dbt.dateadd, dbt.date_trunc, dbt.datediff),
   which give timestamps on some engines: these two keep dates. #}

{# The date `months` months after a date. #}
{% macro add_months(date_expr, months) -%}
    cast({{ dbt.dateadd('month', months, date_expr) }} as date)
{%- endmacro %}

{# The first day of a date's month. #}
{% macro month_start(date_expr) -%}
    cast({{ dbt.date_trunc('month', date_expr) }} as date)
{%- endmacro %}

{# Integer division of non-negative whole numbers (DuckDB's // truncates toward zero). #}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'tally')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__int_div(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}
{#- Spark divides decimals to a bounded scale, rounding the last digit: a quotient just below a
    whole number can come out as that number, and its floor one too high (a package charge at
    an exact multiple billed one package too many). The floor is taken, then lowered by one
    where it times the denominator passes the numerator: exact for any non-negative operands. #}
{% macro spark__int_div(numerator, denominator) -%}
    (floor(({{ numerator }}) / ({{ denominator }}))
        - case
            when floor(({{ numerator }}) / ({{ denominator }})) * ({{ denominator }}) > ({{ numerator }})
                then 1
            else 0
        end)
{%- endmacro %}

{# A month as text YYYY-MM for keys. #}
{% macro month_key(date_expr) -%}
    {{ return(adapter.dispatch('month_key', 'tally')(date_expr)) }}
{%- endmacro %}
{% macro default__month_key(date_expr) -%}
    strftime({{ date_expr }}, '%Y-%m')
{%- endmacro %}
{% macro spark__month_key(date_expr) -%}
    date_format({{ date_expr }}, 'yyyy-MM')
{%- endmacro %}

{# Every month start from first_month to last_month inclusive, as column `period_start`. Not
   dbt.date_spine: it queries the number of intervals at compile time, from literal bounds,
   where these bounds are the model's own subqueries. #}
{% macro month_series(first_month, last_month) -%}
    {{ return(adapter.dispatch('month_series', 'tally')(first_month, last_month)) }}
{%- endmacro %}
{% macro default__month_series(first_month, last_month) -%}
    select cast(period_start as date) as period_start
    from generate_series({{ first_month }}, {{ last_month }}, interval 1 month) as s(period_start)
{%- endmacro %}
{% macro spark__month_series(first_month, last_month) -%}
    select explode(sequence({{ first_month }}, {{ last_month }}, interval 1 month)) as period_start
{%- endmacro %}

{# An exact whole-number type wide enough for money scaled to integers. #}
{% macro whole_type() -%}
    {{ return(adapter.dispatch('whole_type', 'tally')()) }}
{%- endmacro %}
{% macro default__whole_type() -%}hugeint{%- endmacro %}
{% macro spark__whole_type() -%}decimal(38, 0){%- endmacro %}

{#- A 64-bit hash of a string, to screen a large set of ids cheaply: equal strings always
    hash equal, so only the ids whose hash repeats need comparing exactly. The id index keeps
    these hashes from night to night, so the function must give the same value for the same
    id on every version of the engine. DuckDB's hash() does not promise that (it is the
    engine's internal hash, and it changed for strings in 1.3: duckdb/duckdb#17660); an id
    indexed before an upgrade would then never meet its repeat indexed after. On DuckDB it is
    the first 8 bytes of the id's MD5 read little-endian, high bit cleared (a signed 64-bit
    integer, as on Spark); on Spark xxhash64, a fixed algorithm with a fixed seed. #}
{% macro id_hash(expr) -%}
    {{ return(adapter.dispatch('id_hash', 'tally')(expr)) }}
{%- endmacro %}
{% macro default__id_hash(expr) -%}
    cast(md5_number({{ expr }}) & cast(9223372036854775807 as uhugeint) as bigint)
{%- endmacro %}
{% macro spark__id_hash(expr) -%}
    xxhash64({{ expr }})
{%- endmacro %}

{#- The type id_hash returns, on both engines. #}
{% macro id_hash_type() -%}bigint{%- endmacro %}

{#- The UTC calendar day of a timestamp with time zone. On DuckDB a plain cast goes through the
    ICU calendar for every row (3x slower over millions of events); whole days since the epoch
    give the same day, for instants before 1970 too. #}
{% macro utc_date(ts) -%}
    {{ return(adapter.dispatch('utc_date', 'tally')(ts)) }}
{%- endmacro %}
{% macro default__utc_date(ts) -%}
    cast({{ ts }} as date)
{%- endmacro %}
{% macro duckdb__utc_date(ts) -%}
    (date '1970-01-01' + cast(
        epoch_us({{ ts }}) // 86400000000
        - case when epoch_us({{ ts }}) % 86400000000 < 0 then 1 else 0 end
    as integer))
{%- endmacro %}
{% macro spark__utc_date(ts) -%}
    to_date({{ ts }})
{%- endmacro %}

{#- Whole seconds since 1970-01-01 00:00 UTC of a timestamp (with time zone on DuckDB),
    rounded down: the clock the projection measures elapsed time with. #}
{% macro epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'tally')(ts)) }}
{%- endmacro %}
{% macro default__epoch_seconds(ts) -%}
    (epoch_us({{ ts }}) // 1000000)
{%- endmacro %}
{% macro spark__epoch_seconds(ts) -%}
    unix_seconds({{ ts }})
{%- endmacro %}

{#- Seconds since 1970-01-01 00:00 UTC of a date's first instant (dates are UTC days). #}
{% macro date_epoch_seconds(d) -%}
    (86400 * {{ dbt.datediff("cast('1970-01-01' as date)", d, 'day') }})
{%- endmacro %}

{# In an aggregation, the greatest of a row's `fields` taken together, in order (the first
   decides, the next breaks its ties): a struct with those fields, so the row with the greatest
   first fields brings the others along. `fields` is a list of column names. One struct and one
   comparison per row, where arg_max per value compared a struct key once for each value. #}
{% macro max_row(fields) -%}
    {{ return(adapter.dispatch('max_row', 'tally')(fields)) }}
{%- endmacro %}
{% macro default__max_row(fields) -%}
    max(struct_pack({% for f in fields %}{{ f }} := {{ f }}{{ ", " if not loop.last }}{% endfor %}))
{%- endmacro %}
{% macro spark__max_row(fields) -%}
    max(named_struct({% for f in fields %}'{{ f }}', {{ f }}{{ ", " if not loop.last }}{% endfor %}))
{%- endmacro %}

{# The values of `column` held by more than one row of `relation`, as a query (each repeated
   value at least once). Grouping a column of distinct hashes builds a hash table as large as
   the column; on DuckDB sorting it and comparing neighbours took half as long (29M hashes:
   2.2 s against 4.3 s). Spark keeps the grouping: a window over one global order runs in one
   task. #}
{% macro repeated_values(relation, column) -%}
    {{ return(adapter.dispatch('repeated_values', 'tally')(relation, column)) }}
{%- endmacro %}
{% macro default__repeated_values(relation, column) -%}
    select {{ column }} from {{ relation }} group by 1 having count(*) > 1
{%- endmacro %}
{% macro duckdb__repeated_values(relation, column) -%}
    select {{ column }}
    from (
        select {{ column }}, lag({{ column }}) over (order by {{ column }}) as previous
        from {{ relation }}
    )
    where {{ column }} = previous
{%- endmacro %}

{#- An instant in time (UTC when shown): DuckDB's `timestamp` has no time zone, Spark's
    `timestamp` is an instant and Spark has no `with time zone`. Text is portable as `string`
    (DuckDB's alias of varchar; Spark refuses a varchar without a length). #}
{% macro timestamp_type() -%}
    {{ return(adapter.dispatch('timestamp_type', 'tally')()) }}
{%- endmacro %}
{% macro default__timestamp_type() -%}timestamp with time zone{%- endmacro %}
{% macro spark__timestamp_type() -%}timestamp{%- endmacro %}

{# A text as a JSON string, quotes and control characters escaped, other characters as they
   are: what Python's json.dumps(ensure_ascii=False) writes. Null stays null. #}
{% macro json_string(text) -%}
    {{ return(adapter.dispatch('json_string', 'tally')(text)) }}
{%- endmacro %}
{% macro default__json_string(text) -%}
    cast(to_json(cast({{ text }} as varchar)) as varchar)
{%- endmacro %}
{% macro spark__json_string(text) -%}
    case when {{ text }} is not null
        then regexp_extract(to_json(named_struct('v', {{ text }})), '^\\{"v":(.*)\\}$', 1)
    end
{%- endmacro %}

{# One row per whole number from 0 to n (an expression of the row), as a select-list item that
   multiplies the row: `select t.*, {{ numbers_to('t.n') }} as k from t`. #}
{% macro numbers_to(n) -%}
    {{ return(adapter.dispatch('numbers_to', 'tally')(n)) }}
{%- endmacro %}
{% macro default__numbers_to(n) -%}
    unnest(range(0, cast({{ n }} as bigint) + 1))
{%- endmacro %}
{% macro spark__numbers_to(n) -%}
    explode(sequence(0, cast({{ n }} as int)))
{%- endmacro %}
