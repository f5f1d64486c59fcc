{# The key of an adjustment (and the charge_id of the line that carries it): `invoice:charge`
   for a charge's usage and the plan's lines (whose charge is their line type),
   `invoice:charge:line_type` for a charge's minimum true-up or spend cap, and a grouped
   charge's usage with `:` and its group key after (`invoice:charge:{"model":"large"}`). #}
{% macro adjustment_key(invoice_id, charge_id, line_type, group_key='null') -%}
    {{ invoice_id }} || ':' || {{ charge_id }}
        || case when {{ line_type }} in ('usage', {{ charge_id }}) then '' else ':' || {{ line_type }} end
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
