-- Every reconciliation finding of the run, one row each (README, "Data-quality checks").
-- severity 'error' blocks a month close; 'warning' is for a person to look at.
-- subject says what the finding is about: a file, a batch, a day, a charge or an invoice.
with

findings as (
    select * from {{ ref('int_check__conservation') }}
    union all
    select * from {{ ref('int_check__invoices') }}
    union all
    select * from {{ ref('int_check__revenue') }}
    union all
    select * from {{ ref('int_check__adjustments') }}
    union all
    select * from {{ ref('int_check__billing_system') }}
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
