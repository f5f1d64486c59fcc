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

{#-
  The per-batch conservation finding, one rule for the nightly check (rec_conservation) and the
  full audit at close (audit_lake): a finding for each batch whose manifest's accepted events
  differ from the batch's events in the lake. `files` is the manifests' relation (or CTE),
  `lake_batches` one of (batch_id, events): the nightly counts Parquet footers, the audit
  the events themselves.
-#}
{% macro batch_events_against_manifests(check_name, files, lake_batches) -%}
    select
        '{{ check_name }}' as check_name,
        cast(null as date) as period_start,
        'batch ' || coalesce(m.batch_id, l.batch_id) as subject,
        cast(coalesce(m.accepted, 0) as {{ quantity_type() }}) as expected,
        cast(coalesce(l.events, 0) as {{ quantity_type() }}) as actual
    from (
        select batch_id, sum(rows_accepted) as accepted
        from {{ files }}
        group by batch_id
    ) as m
    full outer join {{ lake_batches }} as l on m.batch_id = l.batch_id
    where coalesce(m.accepted, 0) <> coalesce(l.events, 0)
{%- endmacro %}
