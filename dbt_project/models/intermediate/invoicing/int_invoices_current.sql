-- One invoice per customer and period. Issued invoices are read from the issued store and
-- never change (number, name and due date included); open periods show the current draft,
-- refreshed by every run, under the customer's current name.
with

issued as (select * from {{ ref('stg_issued__invoices') }}),
computed as (select * from {{ ref('int_invoices_with_adjustments') }}),
draft_credits as (select * from {{ ref('int_draft_credits') }}),
customers as (select * from {{ ref('stg_reference__customers') }}),

-- Credits are applied when a period closes; a draft shows what close would apply now.
drafts as (
    select
        c.invoice_id,
        cast(null as bigint) as invoice_number,
        cast(null as bigint) as credit_note_number,
        c.customer_id,
        cu.customer_name,
        c.period_start,
        c.period_end,
        c.currency,
        c.subtotal,
        c.tax,
        cast(coalesce(d.credits_applied, 0) as {{ money_type() }}) as credits_applied,
        -- Credits pay the subtotal first and the tax last.
        cast(greatest(coalesce(d.credits_applied, 0) - greatest(c.subtotal, 0), 0) as {{ money_type() }})
            as credits_applied_to_tax,
        -- A carried credit note can make the subtotal negative: the total is never below 0.
        cast(greatest(c.subtotal + c.tax - coalesce(d.credits_applied, 0), 0) as {{ money_type() }}) as total,
        'draft' as status,
        cast(null as {{ tally.timestamp_type() }}) as issued_at,
        cast(null as date) as due_date
    from computed as c
    left join draft_credits as d on c.invoice_id = d.invoice_id
    left join customers as cu on c.customer_id = cu.customer_id
    where c.invoice_id not in (select invoice_id from issued)
),

final as (
    select
        invoice_id, invoice_number, credit_note_number, customer_id, customer_name, period_start, period_end,
        currency, subtotal, tax, credits_applied,
        cast(greatest(credits_applied - greatest(subtotal, 0), 0) as {{ money_type() }}) as credits_applied_to_tax,
        total, 'issued' as status, issued_at, due_date
    from issued
    union all
    select * from drafts
)

select * from final
