-- What issued invoices would say today: per issued invoice, charge, line type and group, the issued
-- amount, the amount the current data and price book give, and the difference (issued
-- invoices never change; corrections are adjustments). A charge's usage, its minimum true-up
-- and its spend cap are apart; the plan's lines (base fee, true-up, spend cap) use their line
-- type as charge_id. The key of a charge's usage is `invoice:charge` and of its commitment
-- lines `invoice:charge:line_type`. reason (from the charge's usage and pricing, so a spend
-- cap that moves because usage arrived late says late_usage):
--   late_usage    the quantity changed (usage that arrived after close) under the same pricing
--   price_change  the plan version rating the charge changed, or the price at that version
--                 did, with the quantity unchanged
--   both          quantity and pricing changed
with

issued_invoices as (select * from {{ ref('stg_issued__invoices') }}),
-- Adjustment lines are what later invoices carried, not part of the invoice adjusted.
issued_lines as (select * from {{ ref('stg_issued__invoice_lines') }}),
recomputed_lines as (select * from {{ ref('int_invoice_lines_rated') }}),
recomputed_discounts as (select * from {{ ref('int_invoice_discount_lines') }}),

-- Both sides summed by one query, so they are summed alike.
both_sides as (
    select 'issued' as side, invoice_id, customer_id, period_start, charge_id, line_type,
        group_key, quantity, amount, plan_id, plan_version, tax_rate, coupon_id
    from issued_lines
    where line_type <> 'adjustment'
    union all
    select 'recomputed' as side, invoice_id, customer_id, period_start, charge_id, line_type,
        group_key, quantity, amount, plan_id, plan_version, tax_rate, cast(null as string) as coupon_id
    from recomputed_lines
    where invoice_id in (select invoice_id from issued_invoices)
    union all
    select 'recomputed' as side, invoice_id, customer_id, period_start, charge_id, line_type,
        group_key, quantity, amount, plan_id, plan_version, tax_rate, coupon_id
    from recomputed_discounts
    where invoice_id in (select invoice_id from issued_invoices)
),

totals as (
    select
        side,
        invoice_id,
        customer_id,
        period_start,
        -- a discount's key is its coupon's (two redemptions of one coupon are one)
        coalesce(charge_id, case when line_type = 'discount' then 'discount:' || coupon_id end, line_type)
            as charge_id,
        line_type,
        coalesce(group_key, '') as group_id,
        sum(quantity) as quantity,
        sum(amount) as amount,
        max(tax_rate) as tax_rate,
        min(plan_id || ':' || cast(plan_version as string)) as first_pricing,
        max(plan_id || ':' || cast(plan_version as string)) as last_pricing
    from both_sides
    group by 1, 2, 3, 4, 5, 6, 7
),

issued as (select * from totals where side = 'issued'),
recomputed as (select * from totals where side = 'recomputed'),

-- What a charge's reason is read from: its usage line (a plan line: the line itself).
measures as (
    select
        side,
        invoice_id,
        charge_id,
        sum(case when line_type in ('usage', charge_id) then quantity end) as quantity,
        min(first_pricing) as first_pricing,
        max(last_pricing) as last_pricing
    from totals
    group by 1, 2, 3
),

compared as (
    select
        coalesce(i.invoice_id, r.invoice_id) as invoice_id,
        coalesce(i.customer_id, r.customer_id) as customer_id,
        coalesce(i.period_start, r.period_start) as period_start,
        coalesce(i.charge_id, r.charge_id) as charge_id,
        coalesce(i.line_type, r.line_type) as line_type,
        coalesce(i.group_id, r.group_id) as group_id,
        coalesce(i.quantity, 0) as issued_quantity,
        coalesce(r.quantity, 0) as recomputed_quantity,
        coalesce(i.amount, 0) as issued_amount,
        coalesce(r.amount, 0) as recomputed_amount,
        -- an adjustment is taxed at the rate of what it adjusts, as issued
        coalesce(i.tax_rate, r.tax_rate) as tax_rate
    from issued as i
    full outer join recomputed as r
        on i.invoice_id = r.invoice_id
        and i.charge_id = r.charge_id
        and i.line_type = r.line_type
        and i.group_id = r.group_id
),

reasons as (
    select
        coalesce(i.invoice_id, r.invoice_id) as invoice_id,
        coalesce(i.charge_id, r.charge_id) as charge_id,
        coalesce(i.quantity, 0) <> coalesce(r.quantity, 0) as quantity_changed,
        -- Lines issued before pricing was recorded on them carry no pricing: not comparable.
        i.first_pricing is not null
            and (
                r.first_pricing is null
                or i.first_pricing <> r.first_pricing
                or i.last_pricing <> r.last_pricing
            ) as pricing_changed
    from (select * from measures where side = 'issued') as i
    full outer join (select * from measures where side = 'recomputed') as r
        on i.invoice_id = r.invoice_id
        and i.charge_id = r.charge_id
),

-- A discount moves with what it was taken from: its reason is the invoice's.
invoice_reasons as (
    select
        invoice_id,
        max(case when quantity_changed then 1 else 0 end) = 1 as quantity_changed,
        max(case when pricing_changed then 1 else 0 end) = 1 as pricing_changed
    from reasons
    group by 1
),

keyed as (
    select
        c.*,
        {{ adjustment_key('c.invoice_id', 'c.charge_id', 'c.line_type', "nullif(c.group_id, '')") }} as adjustment_key,
        coalesce(case when c.line_type = 'discount' then v.quantity_changed else q.quantity_changed end, false)
            as quantity_changed,
        coalesce(case when c.line_type = 'discount' then v.pricing_changed else q.pricing_changed end, false)
            as pricing_changed
    from compared as c
    left join reasons as q
        on c.invoice_id = q.invoice_id
        and c.charge_id = q.charge_id
    left join invoice_reasons as v on c.invoice_id = v.invoice_id
),

-- What later issued invoices already carried of each adjustment (see int_adjustment_lines).
carried as (
    select charge_id as adjustment_key, sum(amount) as amount
    from issued_lines
    where line_type = 'adjustment'
    group by 1
),

final as (
    select
        c.invoice_id,
        c.customer_id,
        c.period_start,
        c.charge_id,
        c.line_type,
        nullif(c.group_id, '') as group_key,
        c.adjustment_key,
        c.tax_rate,
        cast(issued_quantity as {{ quantity_type() }}) as issued_quantity,
        cast(recomputed_quantity as {{ quantity_type() }}) as recomputed_quantity,
        cast(issued_amount as {{ money_type() }}) as issued_amount,
        cast(recomputed_amount as {{ money_type() }}) as recomputed_amount,
        cast(recomputed_amount - issued_amount as {{ money_type() }}) as difference,
        case
            when quantity_changed and pricing_changed then 'both'
            when quantity_changed then 'late_usage'
            else 'price_change'
        end as reason,
        cast(coalesce(k.amount, 0) as {{ money_type() }}) as carried_amount,
        cast(recomputed_amount - issued_amount - coalesce(k.amount, 0) as {{ money_type() }}) as pending_amount
    from keyed as c
    left join carried as k on c.adjustment_key = k.adjustment_key
    where recomputed_amount <> issued_amount
)

select * from final
