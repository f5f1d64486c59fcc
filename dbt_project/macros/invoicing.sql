{# The key of an adjustment (and the charge_id of the line that carries it): `invoice:charge`
   for a charge's usage and the plan's lines (whose charge is their line type),
   `invoice:charge:line_type` for a charge's minimum true-up or spend cap. #}
{% macro adjustment_key(invoice_id, charge_id, line_type) -%}
    {{ invoice_id }} || ':' || {{ charge_id }}
        || case when {{ line_type }} in ('usage', {{ charge_id }}) then '' else ':' || {{ line_type }} end
{%- endmacro %}
