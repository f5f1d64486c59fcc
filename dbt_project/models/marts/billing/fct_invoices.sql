-- One invoice per customer and period. Issued invoices are read from the issued store and
-- never change; open periods show the current draft, refreshed by every run.
with

issued as (select * from {{ ref('stg_issued__invoices') }}),
computed as (select * from {{ ref('int_invoices_computed') }}),

drafts as (
    select
        invoice_id,
        customer_id,
        period_start,
        period_end,
        currency,
        subtotal,
        -- Credits are applied when the period closes (issue #4 adds draft credit estimates).
        cast(0 as {{ money_type() }}) as credits_applied,
        subtotal as total,
        'draft' as status,
        cast(null as timestamp with time zone) as issued_at
    from computed
    where invoice_id not in (select invoice_id from issued)
),

final as (
    select
        invoice_id, customer_id, period_start, period_end, currency, subtotal,
        credits_applied, total, 'issued' as status, issued_at
    from issued
    union all
    select * from drafts
)

select * from final
