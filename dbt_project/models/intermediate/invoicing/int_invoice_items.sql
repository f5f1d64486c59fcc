-- Each invoice as items, what discounts, tax and credits work on (transforms/items.py is the
-- reference): `base_fee` (every base-fee line), `charge:<charge_id>` (the charge's usage lines
-- of every group and segment, its minimum true-up and spend cap), `commitment` (the plan's
-- minimum true-ups), `adjustment:<key>` (each carried adjustment). Two kinds of negative line
-- belong to no item and are allocated (allocation_ctes, weights = the items' amounts) so that
-- no item is negative: the plan's spend caps over the charge items (a plan cap is measured on
-- those lines, so it never exceeds them), and negative carried adjustments over the positive
-- ones, or, when they outweigh them, the positive ones over the negative ones, which keep
-- what is left. The items of an invoice add up to its subtotal.
-- Tax, per item: round(amount x rate) to minor units, 0 for an item whose amount is not
-- positive and on an invoice whose subtotal is negative. The rate is its lines' (see
-- int_invoice_lines_rated), the highest where a charge's lines of two plans of one month
-- differ. The invoice's tax is the sum of its items'.
with

lines as (select * from {{ ref('int_invoice_lines_current') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
discount_shares as (select * from {{ ref('int_invoice_discount_shares') }}),
issued_items as (select * from {{ ref('stg_issued__invoice_items') }}),

-- a discount is in its items' amounts (int_invoice_discount_shares); an issued invoice frozen
-- with its items is read as issued (issued_items)
{{ invoice_item_ctes(
    'rated', 'lines', 'currencies',
    carry=['customer_id', 'period_start', 'currency', 'invoice_status'],
    where="l.line_type <> 'discount' and l.invoice_id not in (select invoice_id from issued_items)"
) }},

adjustment_totals as (
    select
        invoice_id,
        sum(case when line_role = 'own' then amount else 0 end) as debits,
        sum(case when line_role = 'credit_note' then amount else 0 end) as credit_notes
    from rated_items
    where item_kind = 3
    group by 1
),

-- Which items an invoice keeps: all but the side of its adjustments that is allocated away.
kept as (
    select o.*
    from rated_items as o
    left join adjustment_totals as a on o.invoice_id = a.invoice_id
    where o.item_kind <> 3
        or (o.line_role = 'own' and a.debits + a.credit_notes >= 0)
        or (o.line_role = 'credit_note' and a.debits + a.credit_notes < 0)
),

adjustment_weights as (
    select
        k.invoice_id,
        'adjustments' as allocation,
        k.item,
        k.item_order,
        k.minor_units,
        abs(k.amount) as weight,
        case when k.line_role = 'own' then a.credit_notes else a.debits end as amount
    from kept as k
    inner join adjustment_totals as a on k.invoice_id = a.invoice_id
    where k.item_kind = 3
        and (case when k.line_role = 'own' then a.credit_notes else a.debits end) <> 0
),

{{ allocation_ctes('adjusted', 'adjustment_weights', 'invoice_id, allocation') }},

shares as (
    select invoice_id, item, sum(share) as share
    from (
        select invoice_id, item, share from rated_capped
        union all
        select invoice_id, item, share from adjusted
        union all
        -- the coupons of a draft (an issued invoice has its discounts in its frozen items)
        select d.invoice_id, d.item, d.share
        from discount_shares as d
        where d.invoice_id in (select invoice_id from rated_lines where invoice_status = 'draft')
    ) as s
    group by 1, 2
),

allocated_items as (
    select
        k.invoice_id,
        k.customer_id,
        k.period_start,
        k.item,
        k.item_order,
        k.minor_units,
        k.amount + coalesce(s.share, 0) as amount,
        k.tax_rate,
        k.currency,
        k.invoice_status
    from kept as k
    left join shares as s
        on k.invoice_id = s.invoice_id
        and k.item = s.item
),

taxed as (
    select
        *,
        case
            -- an invoice whose subtotal is negative owes the customer: no tax, no credits
            when sum(amount) over (partition by invoice_id) < 0 then 0
            when amount > 0
                then {{ round_money('cast(amount as decimal(20, 4)) * cast(tax_rate as decimal(16, 12))', 'minor_units') }}
            else 0
        end as tax
    from allocated_items
),

final as (
    select
        invoice_id,
        customer_id,
        period_start,
        item,
        cast(row_number() over (partition by invoice_id order by item_order) as integer) as item_order,
        cast(amount as {{ money_type() }}) as amount,
        cast(tax_rate as decimal(38, 12)) as tax_rate,
        cast(tax as {{ money_type() }}) as tax,
        cast(amount + tax as {{ money_type() }}) as due,
        currency,
        invoice_status
    from taxed
    union all
    select
        invoice_id,
        customer_id,
        period_start,
        item,
        item_order,
        amount,
        tax_rate,
        tax,
        cast(amount + tax as {{ money_type() }}) as due,
        currency,
        'issued' as invoice_status
    from issued_items
)

select * from final
