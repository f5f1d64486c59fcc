{# The key of an adjustment (and the charge_id of the line that carries it): `invoice:charge`
   for a charge's usage and the plan's lines (whose charge is their line type),
   `invoice:charge:line_type` for a charge's minimum true-up or spend cap, and a grouped
   charge's usage with `:` and its group key after (`invoice:charge:{"model":"large"}`). #}
{% macro adjustment_key(invoice_id, charge_id, line_type, group_key='null') -%}
    {{ invoice_id }} || ':' || {{ charge_id }}
        || case when {{ line_type }} in ('usage', {{ charge_id }}) then '' else ':' || {{ line_type }} end
        || coalesce(':' || {{ group_key }}, '')
{%- endmacro %}
