-- Coupons on every computed invoice (transforms/coupons.py is the reference): what each coupon
-- redeemed takes off each item it applies to. A redemption applies to the invoice of the month
-- it was redeemed in and of the months after it within duration_months (forever without one).
-- Coupons limited to charges go first, then other limited ones, then unlimited ones; then by
-- redeemed_on and redemption_id. Each works on what its items still hold after the coupons
-- before it: a percentage takes round(held x percent), an amount min(amount, held), the rest of
-- it forfeited. Its discount is shared over its items by what they hold (allocation_ctes).
-- The items are the rated lines' (base fee, charges with the plan's cap shared over them, the
-- plan commitment); carried adjustments are never discounted. The coupons are unrolled one step
-- per coupon an invoice holds at most (unrolled_steps).
{%- set invoices = ref('int_invoices_computed') %}
{%- set redemptions = ref('stg_reference__coupon_redemptions') %}
{%- set coupons = ref('stg_pricing__coupons') %}
{%- set month_index = "(year({d}) * 12 + month({d}))" %}
{%- set active_sql %}
    select
        i.invoice_id,
        i.period_start,
        r.redemption_id,
        r.redeemed_on,
        c.coupon_id,
        c.kind,
        c.percent,
        c.amount,
        c.limited,
        c.order_class
    from {{ invoices }} as i
    inner join {{ redemptions }} as r on i.customer_id = r.customer_id
    inner join {{ coupons }} as c on r.coupon_id = c.coupon_id
    where {{ month_index.format(d='i.period_start') }} >= {{ month_index.format(d='r.redeemed_on') }}
        and (
            c.duration_months is null
            or {{ month_index.format(d='i.period_start') }}
            < {{ month_index.format(d='r.redeemed_on') }} + c.duration_months
        )
{%- endset %}
{%- set steps = unrolled_steps('coupon_steps', invoices, active_sql) %}
with

lines as (select * from {{ ref('int_invoice_lines_rated') }}),
currencies as (select * from {{ ref('stg_reference__currencies') }}),
targets as (select * from {{ ref('stg_pricing__coupon_targets') }}),

active as (
    select
        *,
        row_number() over (
            partition by invoice_id order by order_class, redeemed_on, redemption_id
        ) as coupon_rank
    from ({{ active_sql }}) as a
),

{{ invoice_item_ctes(
    'rated', 'lines', 'currencies', where='l.invoice_id in (select invoice_id from active)'
) }},

eligible as (
    select distinct a.invoice_id, a.coupon_rank, i.item
    from active as a
    inner join rated_items as i on a.invoice_id = i.invoice_id
    left join targets as t on a.coupon_id = t.coupon_id
    where not a.limited
        or (i.item_kind = 0 and t.target = 'base_fee')
        or (i.item_kind in (1, 2) and t.target = 'usage')
        or i.item = t.target
),

remaining_0 as (
    select
        i.invoice_id,
        i.item,
        i.item_order,
        i.minor_units,
        i.amount + coalesce(c.share, 0) as remaining
    from rated_items as i
    left join rated_capped as c
        on i.invoice_id = c.invoice_id
        and i.item = c.item
),
{%- for k in range(1, steps + 1) %}

step_{{ k }}_held as (
    select r.*, a.coupon_id, a.redemption_id, a.kind, a.percent, a.amount as coupon_amount
    from remaining_{{ k - 1 }} as r
    inner join active as a
        on r.invoice_id = a.invoice_id
        and a.coupon_rank = {{ k }}
    inner join eligible as e
        on r.invoice_id = e.invoice_id
        and r.item = e.item
        and e.coupon_rank = {{ k }}
    where r.remaining > 0
),

step_{{ k }}_off as (
    select
        invoice_id,
        case
            when max(kind) = 'percentage'
                then {{ round_money('cast(sum(remaining) as decimal(20, 4)) * cast(max(percent) as decimal(16, 12))', 'max(minor_units)') }}
            else least(max(coupon_amount), sum(remaining))
        end as off
    from step_{{ k }}_held
    group by 1
),

step_{{ k }}_weights as (
    select
        h.invoice_id,
        'coupon' as allocation,
        h.item,
        h.item_order,
        h.minor_units,
        h.remaining as weight,
        -o.off as amount,
        h.coupon_id,
        h.redemption_id
    from step_{{ k }}_held as h
    inner join step_{{ k }}_off as o on h.invoice_id = o.invoice_id
    where o.off > 0
),

{{ allocation_ctes('step_' ~ k ~ '_allocated', 'step_' ~ k ~ '_weights', 'invoice_id, allocation') }},

step_{{ k }}_shares as (
    select s.invoice_id, s.item, s.share, w.coupon_id, w.redemption_id, {{ k }} as coupon_rank
    from step_{{ k }}_allocated as s
    inner join step_{{ k }}_weights as w
        on s.invoice_id = w.invoice_id
        and s.item = w.item
),

remaining_{{ k }} as (
    select
        r.invoice_id,
        r.item,
        r.item_order,
        r.minor_units,
        r.remaining + coalesce(s.share, 0) as remaining
    from remaining_{{ k - 1 }} as r
    left join step_{{ k }}_shares as s
        on r.invoice_id = s.invoice_id
        and r.item = s.item
),
{%- endfor %}

shares as (
    {%- for k in range(1, steps + 1) %}
    select invoice_id, redemption_id, coupon_id, coupon_rank, item, share from step_{{ k }}_shares
    union all
    {%- endfor %}
    select
        cast(null as string) as invoice_id,
        cast(null as string) as redemption_id,
        cast(null as string) as coupon_id,
        cast(null as bigint) as coupon_rank,
        cast(null as string) as item,
        cast(null as {{ money_type() }}) as share
    from remaining_0
    where false
),

final as (
    select
        invoice_id,
        redemption_id,
        coupon_id,
        cast(coupon_rank as integer) as coupon_rank,
        item,
        cast(share as {{ money_type() }}) as share
    from shares
)

select * from final
