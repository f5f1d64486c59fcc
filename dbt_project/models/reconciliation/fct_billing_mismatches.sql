-- Every reconciliation finding of the run, one row each (docs/checks.md),
-- from the models of models/reconciliation/, which read the marts they reconcile. A mart
-- (schema marts), kept in this folder because it is built on them: every model under
-- models/marts/ reads staging and intermediate models only, never another mart.
-- severity 'error' blocks a month close; 'warning' is for a person to look at.
-- subject says what the finding is about: a file, a batch, a day, a charge or an invoice.
{{ config(schema='marts', tags=['quality']) }}

with

findings as (
    select * from {{ ref('rec_conservation') }}
    union all
    select * from {{ ref('rec_invoices') }}
    union all
    select * from {{ ref('rec_revenue') }}
    union all
    select * from {{ ref('rec_credits') }}
    union all
    select * from {{ ref('rec_adjustments') }}
    union all
    select * from {{ ref('rec_billing_system') }}
),

final as (
    select
        check_name,
        severity,
        customer_id,
        period_start,
        subject,
        expected,
        actual,
        difference,
        current_timestamp as detected_at
    from findings
)

select * from final
