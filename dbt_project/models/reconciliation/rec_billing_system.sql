-- tally's invoices against what the billing system of record billed (billed_invoices.csv),
-- for every period that system has billed at all. Differences within the tolerance
-- (var reconciliation_tolerance, in the invoice currency) are not findings. Warnings: the
-- billing system is outside tally, so a disagreement is for a person to resolve, not a
-- reason to stop billing.
{%- set q = quantity_type() %}
with

invoices as (select * from {{ ref('fct_invoices') }}),
billed as (select * from {{ ref('stg_reference__billed_invoices') }}),
tolerance as (select cast('{{ var("reconciliation_tolerance") }}' as {{ money_type() }}) as amount),

billed_periods as (select distinct period_start from billed),

compared as (
    select
        coalesce(i.customer_id, b.customer_id) as customer_id,
        coalesce(i.period_start, b.period_start) as period_start,
        coalesce(i.invoice_id, b.invoice_id) as subject,
        i.invoice_id is not null as in_tally,
        b.invoice_id is not null as in_billing_system,
        i.subtotal,
        i.credits_applied,
        i.total,
        b.subtotal as billed_subtotal,
        b.credits_applied as billed_credits,
        b.total as billed_total
    from invoices as i
    full outer join billed as b
        on i.customer_id = b.customer_id
        and i.period_start = b.period_start
    where coalesce(i.period_start, b.period_start) in (select period_start from billed_periods)
),

findings as (
    select 'invoice_missing_in_billing_system' as check_name, customer_id, period_start,
        subject, cast(null as {{ q }}) as expected, cast(total as {{ q }}) as actual
    from compared
    where not in_billing_system
    union all
    select 'invoice_missing_in_tally' as check_name, customer_id, period_start, subject,
        cast(billed_total as {{ q }}) as expected, cast(null as {{ q }}) as actual
    from compared
    where not in_tally
    union all
    select 'subtotal_differs' as check_name, customer_id, period_start, subject,
        cast(billed_subtotal as {{ q }}) as expected, cast(subtotal as {{ q }}) as actual
    from compared
    where in_tally and in_billing_system
        and abs(subtotal - billed_subtotal) > (select amount from tolerance)
    union all
    select 'credits_differ' as check_name, customer_id, period_start, subject,
        cast(coalesce(billed_credits, 0) as {{ q }}) as expected,
        cast(credits_applied as {{ q }}) as actual
    from compared
    where in_tally and in_billing_system
        and abs(credits_applied - coalesce(billed_credits, 0)) > (select amount from tolerance)
    union all
    select 'total_differs' as check_name, customer_id, period_start, subject,
        cast(billed_total as {{ q }}) as expected, cast(total as {{ q }}) as actual
    from compared
    where in_tally and in_billing_system
        and abs(total - coalesce(billed_total, billed_subtotal)) > (select amount from tolerance)
)

select {{ finding_columns("'warning'") }}
from findings
