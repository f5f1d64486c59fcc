-- Automatic top-ups (credit_topups.csv), one row per top-up grant, for the payment system to
-- charge (tally bills no credit purchase): the ones closes made (status issued, frozen in the
-- issued store), and the ones closing a customer's earliest open period now would make
-- (status draft, int_draft_credits), which change with usage until the month is closed.
with

issued as (select * from {{ ref('stg_issued__credit_topups') }}),
drafts as (select * from {{ ref('int_draft_credits') }} where entry_type = 'topup'),
invoices as (select * from {{ ref('int_invoices_with_adjustments') }}),

final as (
    select
        topup_grant_id,
        topup_id,
        customer_id,
        period_start,
        created_on,
        credits,
        purchase_amount,
        currency,
        kind,
        'issued' as status
    from issued
    union all
    select
        d.grant_id as topup_grant_id,
        d.topup_id,
        i.customer_id,
        i.period_start,
        {{ period_last_day('i.period_end') }} as created_on,
        cast(d.topup_credits as {{ quantity_type() }}) as credits,
        cast(d.purchase_amount as {{ money_type() }}) as purchase_amount,
        i.currency,
        r.kind,
        'draft' as status
    from drafts as d
    inner join invoices as i on d.invoice_id = i.invoice_id
    inner join {{ ref('stg_reference__credit_topups') }} as r on d.topup_id = r.topup_id
)

select * from final
