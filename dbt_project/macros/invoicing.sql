{# The key of an adjustment (and the charge_id of the line that carries it): `invoice:charge`
   for a charge's usage and the plan's lines (whose charge is their line type),
   `invoice:charge:line_type` for a charge's minimum true-up or spend cap, and a grouped
   charge's usage with `:` and its group key after (`invoice:charge:{"model":"large"}`); a
   coupon's discount `invoice:discount:<coupon_id>`. #}
{% macro adjustment_key(invoice_id, charge_id, line_type, group_key='null') -%}
    {{ invoice_id }} || ':' || {{ charge_id }}
        || case when {{ line_type }} in ('usage', 'discount', {{ charge_id }}) then '' else ':' || {{ line_type }} end
        || coalesce(':' || {{ group_key }}, '')
{%- endmacro %}

{#- Shares of allocations, as CTEs ending in one named `name`: (allocation keys..., item,
    share). `source` has one row per allocation and item with `weight` (>= 0, whole minor
    units), the allocation's `amount` (on each of its rows, whole minor units, either sign),
    `item_order` and `minor_units`. Each item's exact share amount * weight / sum(weight) is
    cut toward zero to minor units and the units still missing go one each to the largest
    cut-off remainders, ties to the earlier item (transforms/items.py `allocate`): the shares
    add up to the amount exactly. Whole numbers of minor units throughout, so no division of
    decimals (DuckDB would make it a DOUBLE). -#}
{% macro allocation_ctes(name, source, keys) -%}
{%- set whole = tally.whole_type() -%}
{{ name }}_units as (
    select
        {{ keys }},
        item,
        item_order,
        minor_units,
        case when amount < 0 then -1 else 1 end as sign,
        {{ tally.int_div('cast(abs(amount) * 10000 as ' ~ whole ~ ')', 'cast(power(10, 4 - minor_units) as ' ~ whole ~ ')') }} as amount_units,
        {{ tally.int_div('cast(weight * 10000 as ' ~ whole ~ ')', 'cast(power(10, 4 - minor_units) as ' ~ whole ~ ')') }} as weight_units
    from {{ source }}
),

{{ name }}_cut as (
    select
        *,
        {{ tally.int_div('amount_units * weight_units', 'sum(weight_units) over (partition by ' ~ keys ~ ')') }} as cut_units,
        sum(weight_units) over (partition by {{ keys }}) as total_units
    from {{ name }}_units
),

{{ name }}_ranked as (
    select
        *,
        amount_units - sum(cut_units) over (partition by {{ keys }}) as missing_units,
        row_number() over (
            partition by {{ keys }}
            order by amount_units * weight_units - cut_units * total_units desc, item_order
        ) as remainder_rank
    from {{ name }}_cut
),

{{ name }} as (
    select
        {{ keys }},
        item,
        cast(
            sign * (cut_units + case when remainder_rank <= missing_units then 1 else 0 end)
            * {{ tally.minor_unit('minor_units') }} as {{ tally.money_type() }}
        ) as share
    from {{ name }}_ranked
)
{%- endmacro %}

{#- The item a line belongs to (see int_invoice_items): its kind (0 base fee, 1 a charge,
    2 the plan commitment, 3 a carried adjustment) and its name. -#}
{% macro item_kind(line_type, charge_id) -%}
    case
        when {{ line_type }} = 'base_fee' then 0
        when {{ line_type }} = 'adjustment' then 3
        when {{ charge_id }} is null then 2
        else 1
    end
{%- endmacro %}
{% macro item_name(line_type, charge_id) -%}
    case
        when {{ line_type }} = 'base_fee' then 'base_fee'
        when {{ line_type }} = 'adjustment' then 'adjustment:' || {{ charge_id }}
        when {{ charge_id }} is null then 'commitment'
        else 'charge:' || {{ charge_id }}
    end
{%- endmacro %}

{#- An invoice's lines as items (transforms/items.py), as CTEs named after `name`:
    `<name>_lines` (each line with its item_kind, item and role: `plan_cap` for the plan's
    spend cap, `credit_note` for a negative carried adjustment, else `own`), `<name>_items`
    (invoice x item x role: amount, highest tax_rate, minor_units, item_order) and
    `<name>_capped` (invoice_id, allocation, item, share: the plan's spend cap shared over the
    charge items by their amounts, allocation_ctes). `lines` has invoice_id, line_type,
    charge_id, amount, tax_rate, currency and the `carry` columns (one value per invoice);
    `currencies` is the currency table. -#}
{% macro invoice_item_ctes(name, lines, currencies, carry=[], where='true') -%}
{{ name }}_lines as (
    select
        l.invoice_id,
        {%- for column in carry %}
        l.{{ column }},
        {%- endfor %}
        c.minor_units,
        l.amount,
        l.tax_rate,
        {{ item_kind('l.line_type', 'l.charge_id') }} as item_kind,
        {{ item_name('l.line_type', 'l.charge_id') }} as item,
        case
            when l.line_type = 'spend_cap' and l.charge_id is null then 'plan_cap'
            when l.line_type = 'adjustment' and l.amount < 0 then 'credit_note'
            else 'own'
        end as line_role
    from {{ lines }} as l
    inner join {{ currencies }} as c on l.currency = c.currency
    where {{ where }}
),

{{ name }}_grouped as (
    select
        invoice_id,
        {%- for column in carry %}
        {{ column }},
        {%- endfor %}
        minor_units,
        item_kind,
        item,
        line_role,
        sum(amount) as amount,
        max(tax_rate) as tax_rate
    from {{ name }}_lines
    where line_role <> 'plan_cap'
    group by {{ range(1, carry | length + 6) | join(', ') }}
),

{{ name }}_items as (
    select
        *,
        row_number() over (partition by invoice_id order by item_kind, item) as item_order
    from {{ name }}_grouped
),

{{ name }}_plan_caps as (
    select invoice_id, sum(amount) as amount
    from {{ name }}_lines
    where line_role = 'plan_cap'
    group by 1
),

{{ name }}_cap_weights as (
    select
        i.invoice_id,
        'plan_cap' as allocation,
        i.item,
        i.item_order,
        i.minor_units,
        i.amount as weight,
        p.amount
    from {{ name }}_items as i
    inner join {{ name }}_plan_caps as p on i.invoice_id = p.invoice_id
    where i.item_kind = 1
),

{{ allocation_ctes(name ~ '_capped', name ~ '_cap_weights', 'invoice_id, allocation') }}
{%- endmacro %}

{#- Whether a grant whose `applies_to` is given may pay an item (transforms/grants.py
    Grant.may_pay): anything when it names nothing; else the items it names, and with `usage`
    every charge item and the plan commitment. `applies_to` is its entries joined by ';'. -#}
{% macro grant_may_pay(applies_to, item) -%}
    (
        {{ applies_to }} is null
        or instr(concat(';', {{ applies_to }}, ';'), concat(';', {{ item }}, ';')) > 0
        or (
            ({{ item }} = 'commitment' or {{ item }} like 'charge:%')
            and instr(concat(';', {{ applies_to }}, ';'), ';usage;') > 0
        )
    )
{%- endmacro %}

{#- How many steps a model that unrolls a sequence per invoice needs: the most rows of
    `rows_sql` (one per coupon, or per grant) an invoice has, each step working on what the
    ones before it left. Read when the model runs, from `built` and the relations `rows_sql`
    reads; a unit test sets it with the var `var_name`. -#}
{% macro unrolled_steps(var_name, built, rows_sql) -%}
    {%- if var(var_name, none) is not none -%}
        {{ return(var(var_name) | int) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {#- nothing to ask before the relations exist (a linter compiling the project) -#}
    {%- if adapter.get_relation(built.database, built.schema, built.identifier) is none -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set result = run_query('select coalesce(max(n), 0) from (select invoice_id, count(*) as n from (' ~ rows_sql ~ ') as a group by invoice_id) as c') -%}
    {{ return(result.columns[0].values()[0] | int) }}
{%- endmacro %}

{#- The last day of a period ending `period_end` (exclusive): when top-ups are granted. -#}
{% macro period_last_day(period_end) -%}
    cast({{ dbt.dateadd('day', -1, period_end) }} as date)
{%- endmacro %}

{#- Whether top-up rule `rule` (credit_topups.csv) is in force for the period ending
    `period_end`: its last day is after starts_on and on or before ends_on
    (transforms/topups.py TopUpRule.applies). -#}
{% macro topup_rule_in_force(rule, period_end) -%}
    ({{ rule }}.starts_on is null or {{ rule }}.starts_on < {{ tally.period_last_day(period_end) }})
    and ({{ rule }}.ends_on is null or {{ tally.period_last_day(period_end) }} <= {{ rule }}.ends_on)
{%- endmacro %}

{#- A period's key in invoice ids: YYYY-MM for a period starting on a month's first day (every
    calendar period), YYYY-MM-DD otherwise (an anniversary period; a customer's invoice periods
    never overlap, so no two of them start on one day). -#}
{% macro period_key(period_start) -%}
    case
        when {{ tally.month_start(period_start) }} = {{ period_start }} then {{ tally.month_key(period_start) }}
        else cast({{ period_start }} as {{ dbt.type_string() }})
    end
{%- endmacro %}
