-- One invoice per customer and period. Issued invoices are read from the issued store and
-- never change (number, name and due date included); open periods show the current draft,
-- refreshed by every run, under the customer's current name.
with

issued as (select * from {{ ref('stg_issued__invoices') }}),
computed as (select * from {{ ref('int_invoices_with_adjustments') }}),
draft_credits as (
    select invoice_id, sum(credits_applied) as credits_applied
    from {{ ref('int_draft_credits') }}
    where entry_type = 'draw'
    group by 1
),
customers as (select * from {{ ref('stg_reference__customers') }}),
issued_lines as (select * from {{ ref('stg_issued__invoice_lines') }}),

issued_discounts as (
    select invoice_id, sum(amount) as discounts
    from issued_lines
    where line_type = 'discount'
    group by 1
),

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
        c.discounts,
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
        i.invoice_id, i.invoice_number, i.credit_note_number, i.customer_id, i.customer_name,
        i.period_start, i.period_end, i.currency,
        cast(coalesce(d.discounts, 0) as {{ money_type() }}) as discounts,
        i.subtotal, i.tax, i.credits_applied,
        cast(greatest(i.credits_applied - greatest(i.subtotal, 0), 0) as {{ money_type() }}) as credits_applied_to_tax,
        i.total, 'issued' as status, i.issued_at, i.due_date
    from issued as i
    left join issued_discounts as d on i.invoice_id = d.invoice_id
    union all
    select * from drafts
)

select * from final
