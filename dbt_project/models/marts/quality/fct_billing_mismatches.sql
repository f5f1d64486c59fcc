-- Findings of reconciliation between tally's invoices and billed_invoices.csv. More checks
-- (usage vs invoiced quantity, credits vs ledger, deferred roll-forward) arrive with issue #5.
with

invoices as (select * from {{ ref('fct_invoices') }}),
billed as (select * from {{ ref('stg_reference__billed_invoices') }}),
tolerance as (select cast('{{ var("reconciliation_tolerance") }}' as {{ money_type() }}) as amount),

-- Only periods the billing system has billed at all are compared.
billed_periods as (select distinct period_start from billed),

compared as (
    select
        coalesce(i.customer_id, b.customer_id) as customer_id,
        coalesce(i.period_start, b.period_start) as period_start,
        i.subtotal as computed_subtotal,
        b.subtotal as billed_subtotal
    from invoices as i
    full outer join billed as b
        on i.customer_id = b.customer_id
        and i.period_start = b.period_start
    where coalesce(i.period_start, b.period_start) in (select period_start from billed_periods)
),

findings as (
    select
        case
            when billed_subtotal is null then 'invoice_missing_in_billing_system'
            when computed_subtotal is null then 'invoice_missing_in_tally'
            else 'subtotal_differs'
        end as check_name,
        customer_id,
        period_start,
        billed_subtotal as expected,
        computed_subtotal as actual,
        coalesce(computed_subtotal, 0) - coalesce(billed_subtotal, 0) as difference
    from compared
    where billed_subtotal is null
        or computed_subtotal is null
        or abs(computed_subtotal - billed_subtotal) > (select amount from tolerance)
),

final as (
    select
        check_name,
        customer_id,
        period_start,
        cast(expected as {{ money_type() }}) as expected,
        cast(actual as {{ money_type() }}) as actual,
        cast(difference as {{ money_type() }}) as difference,
        current_timestamp as detected_at
    from findings
)

select * from final
