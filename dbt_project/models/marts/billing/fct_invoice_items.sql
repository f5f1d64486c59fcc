-- Each invoice as items, with each item's tax (int_invoice_items, where the invoices read
-- their tax) and what credits paid of it: frozen at close for an issued invoice (null for
-- months issued before credits were recorded per item), what close would apply now for a
-- customer's earliest draft (int_draft_credits), 0 for a later draft.
with

items as (select * from {{ ref('int_invoice_items') }}),
issued_items as (select * from {{ ref('stg_issued__invoice_items') }}),

draft_credits as (
    select invoice_id, item, sum(credits_applied) as credits_applied
    from {{ ref('int_draft_credits') }}
    where entry_type = 'draw'
    group by 1, 2
),

final as (
    select
        i.*,
        cast(case
            when i.invoice_status = 'issued' then s.credits_applied
            else coalesce(d.credits_applied, 0)
        end as {{ money_type() }}) as credits_applied
    from items as i
    left join issued_items as s
        on i.invoice_id = s.invoice_id
        and i.item = s.item
    left join draft_credits as d
        on i.invoice_id = d.invoice_id
        and i.item = d.item
)

select * from final
