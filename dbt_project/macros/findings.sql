{#-
  The columns of a reconciliation finding, the same in every model of models/reconciliation/
  and so in fct_billing_mismatches: check_name, severity, customer_id, period_start, subject,
  expected, actual and difference (actual - expected; a side that is missing counts as 0).
  Each argument is a SQL expression over the relation the finding is selected from.
-#}
{% macro finding_columns(severity='severity', customer_id='customer_id', difference=none) -%}
    check_name,
    {{ severity }} as severity,
    {{ customer_id }} as customer_id,
    period_start,
    subject,
    cast(expected as {{ quantity_type() }}) as expected,
    cast(actual as {{ quantity_type() }}) as actual,
    cast({{ difference or 'coalesce(actual, 0) - coalesce(expected, 0)' }} as {{ quantity_type() }}) as difference
{%- endmacro %}
