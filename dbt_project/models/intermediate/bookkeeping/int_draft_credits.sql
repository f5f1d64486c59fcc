-- Credits a draft invoice would receive if its month closed now, and the automatic top-ups
-- close would make: the same rule as month close (transforms/credits.py and
-- transforms/topups.py), over balances left after the issued months (int_credit_grants:
-- one-off grants, recurring grants' instances, allocations and earlier top-ups, with what
-- rollovers carried). Only each customer's earliest open period gets an estimate: months close
-- in order, and a later open period's credits depend on what the earlier one will draw.
-- One row per draw (entry_type 'draw': a grant paying an item) and per top-up ('topup').
--
-- Close, step by step (one unrolled step per grant and two per top-up the rule allows):
-- 1. top up: while the customer's balance (every grant that may pay the period) is at or below
--    the rule's threshold and fewer than max_per_period top-ups were made, a top-up slot
--    `<topup_id>@<period_start>#<n>` becomes a grant of topup_credits (target_credits -
--    balance), in the burn order at once;
-- 2. draw: the first grant in burn order (priority, expiry with never-expiring last,
--    promotional first, oldest, grant id) that has not drawn all it could pays the items it may
--    pay (grant_may_pay), the one still owing most first (ties: item order), each draw
--    min(what the item still owes, what the grant holds, what the invoice still owes); it holds
--    round(balance x credit_rate), and while a top-up can follow, no more than the money that
--    brings the balance down to the threshold (rounded up), so the top-up comes between draws.
--    Credits drawn = money / credit_rate (9 decimals, half-up), the whole balance when its whole
--    value is drawn. A grant stopped at the threshold draws again once the top-up is made.
-- After the last step, one more top-up (a draw that left the balance at the threshold).
--
-- The state is one table per step, a row per grant (top-up slots included), per item and per
-- grant and item (what the grant paid of it), each carrying its invoice's figures; every step
-- reads the one before once, through window functions, so the chain stays linear (Spark
-- inlines a CTE at every reference).
{%- set invoices = ref('int_invoices_with_adjustments') %}
{%- set open_sql %}
    select
        o.invoice_id,
        o.customer_id,
        o.period_start,
        o.period_end,
        o.subtotal + o.tax as due,
        o.credit_rate,
        c.minor_units
    from (
        select
            i.*,
            row_number() over (partition by i.customer_id order by i.period_start) as open_rank
        from {{ invoices }} as i
        where i.invoice_id not in (select invoice_id from {{ ref('stg_issued__invoices') }})
    ) as o
    inner join {{ ref('stg_reference__currencies') }} as c on o.currency = c.currency
    where o.open_rank = 1
        and o.credit_rate > 0
{%- endset %}
{#- what a grant still holds: its credits, what a rollover carried in or out, less what closed
    months drew #}
{%- set balance = 'g.credits + g.rolled_in - g.settled_out - coalesce(u.credits, 0)' %}
{%- set grants_sql %}
    select
        o.invoice_id,
        g.grant_id,
        cast(null as int) as slot,
        g.applies_to,
        g.priority,
        g.expires_at,
        g.kind,
        g.granted_at,
        {{ balance }} as balance
    from ({{ open_sql }}) as o
    inner join {{ ref('int_credit_grants') }} as g
        on o.customer_id = g.customer_id
        and g.granted_at < o.period_end
        and (g.expires_at is null or g.expires_at >= o.period_end)
    left join (
        select grant_id, sum(credits) as credits
        from {{ ref('stg_issued__credit_consumption') }}
        group by 1
    ) as u on g.grant_id = u.grant_id
    where {{ balance }} > 0
{%- endset %}
{#- the customer's top-up rule in force for the period #}
{%- set rules_sql %}
    select
        o.invoice_id,
        o.period_start,
        {{ period_last_day('o.period_end') }} as last_day,
        r.topup_id,
        r.threshold_credits,
        r.topup_credits,
        r.target_credits,
        r.price_per_credit,
        r.kind,
        r.priority,
        r.max_per_period
    from ({{ open_sql }}) as o
    inner join {{ ref('stg_reference__credit_topups') }} as r
        on o.customer_id = r.customer_id
        and {{ topup_rule_in_force('r', 'o.period_end') }}
{%- endset %}
{%- set slots_sql %}
    select
        s.invoice_id,
        s.topup_id || '@' || cast(s.period_start as string) || '#' || cast(s.slot as string)
            as grant_id,
        s.slot,
        cast(null as string) as applies_to,
        s.priority,
        cast(null as date) as expires_at,
        s.kind,
        s.last_day as granted_at,
        cast(0 as {{ quantity_type() }}) as balance
    from (
        select r.*, k + 1 as slot
        from (select *, {{ numbers_to('max_per_period - 1') }} as k from ({{ rules_sql }}) as q) as r
    ) as s
{%- endset %}
{#- one step per grant, two per top-up slot #}
{%- set steps = unrolled_steps(
    'credit_steps',
    invoices,
    grants_sql ~ ' union all ' ~ slots_sql ~ ' union all ' ~ slots_sql
) %}
{%- set columns = [
    'invoice_id', 'row_kind', 'grant_id', 'item', 'burn_rank', 'item_order', 'applies_to',
    'slot', 'balance', 'available', 'done', 'granted', 'owed', 'paid', 'still_due', 'made',
    'credit_rate', 'minor_units', 'threshold', 'topup_credits', 'target_credits',
    'max_per_period'
] %}
with

rules as ({{ rules_sql }}),

invoices as (
    select
        o.invoice_id,
        o.due as still_due,
        0 as made,
        o.credit_rate,
        o.minor_units,
        r.threshold_credits as threshold,
        r.topup_credits,
        r.target_credits,
        r.max_per_period
    from ({{ open_sql }}) as o
    left join rules as r on o.invoice_id = r.invoice_id
),

buckets as (
    select
        *,
        row_number() over (
            partition by invoice_id
            order by
                priority,
                case when expires_at is null then 1 else 0 end,
                expires_at,
                case when kind = 'promotional' then 0 else 1 end,
                granted_at,
                grant_id
        ) as burn_rank
    from (
        {{ grants_sql }}
        union all
        {{ slots_sql }}
    ) as b
),

items as (
    select i.invoice_id, i.item, i.item_order, i.due
    from {{ ref('int_invoice_items') }} as i
    where i.invoice_id in (select invoice_id from buckets)
),

rows_0 as (
    select
        invoice_id,
        'grant' as row_kind,
        grant_id,
        cast(null as string) as item,
        burn_rank,
        cast(null as int) as item_order,
        applies_to,
        slot,
        cast(balance as {{ quantity_type() }}) as balance,
        case when slot is null then 1 else 0 end as available,
        0 as done,
        cast(null as {{ quantity_type() }}) as granted,
        cast(0 as {{ money_type() }}) as owed,
        cast(0 as {{ money_type() }}) as paid
    from buckets
    union all
    -- each item (what it owes), and each grant's payment of it (what it paid so far)
    select
        i.invoice_id,
        case when p.grant_id is null then 'item' else 'paid' end as row_kind,
        p.grant_id,
        i.item,
        cast(null as bigint) as burn_rank,
        i.item_order,
        cast(null as string) as applies_to,
        cast(null as int) as slot,
        cast(0 as {{ quantity_type() }}) as balance,
        0 as available,
        1 as done,
        cast(null as {{ quantity_type() }}) as granted,
        cast(case when p.grant_id is null then i.due else 0 end as {{ money_type() }}) as owed,
        cast(0 as {{ money_type() }}) as paid
    from items as i
    inner join (
        select invoice_id, grant_id from buckets
        union all
        select distinct invoice_id, cast(null as string) as grant_id from buckets
    ) as p on i.invoice_id = p.invoice_id
),

state_0 as (
    select
        r.invoice_id,
        r.row_kind,
        r.grant_id,
        r.item,
        r.burn_rank,
        r.item_order,
        r.applies_to,
        r.slot,
        r.balance,
        r.available,
        r.done,
        r.granted,
        r.owed,
        r.paid,
        i.still_due,
        i.made,
        i.credit_rate,
        i.minor_units,
        i.threshold,
        i.topup_credits,
        i.target_credits,
        i.max_per_period
    from rows_0 as r
    inner join invoices as i on r.invoice_id = i.invoice_id
),
{%- for k in range(1, steps + 2) %}

-- step {{ k }}, top up: the top-ups the balance at or below the threshold calls for now
s{{ k }}_topped as (
    select
        {%- for c in columns if c not in ['balance', 'available', 'granted', 'made'] %}
        x.{{ c }},
        {%- endfor %}
        case when x.slot_made = 1 then x.topup else x.balance end as balance,
        case when x.slot_made = 1 then 1 else x.available end as available,
        case when x.slot_made = 1 then x.topup else x.granted end as granted,
        x.made + x.new_topups as made
    from (
        select
            y.*,
            case
                when y.slot > y.made and y.slot <= y.made + y.new_topups then 1 else 0
            end as slot_made,
            cast(coalesce(y.topup_credits, y.target_credits - y.total)
                as {{ quantity_type() }}) as topup
        from (
            select
                z.*,
                case
                    when z.max_per_period is null
                        or z.made >= z.max_per_period
                        or z.total > z.threshold
                        then 0
                    when z.topup_credits is null then 1
                    else least(
                        z.max_per_period - z.made,
                        {{ floor_div_quantity('z.threshold - z.total', 'z.topup_credits') }} + 1
                    )
                end as new_topups
            from (
                select
                    s.*,
                    coalesce(sum(
                        case when s.row_kind = 'grant' and s.available = 1 then s.balance end
                    ) over (partition by s.invoice_id), 0) as total
                from state_{{ k - 1 }} as s
            ) as z
        ) as y
    ) as x
),
{%- if k <= steps %}

-- step {{ k }}, pick: the first grant in burn order that can still draw, and what it holds
s{{ k }}_picked as (
    select
        {%- for c in columns if c not in [] %}
        x.{{ c }},
        {%- endfor %}
        max(case when x.picked = 1 then x.grant_id end)
            over (partition by x.invoice_id) as p_grant,
        max(case when x.picked = 1 then x.applies_to end)
            over (partition by x.invoice_id) as p_applies,
        max(case when x.picked = 1 then x.holds end) over (partition by x.invoice_id) as p_holds,
        max(case when x.picked = 1 then x.value end) over (partition by x.invoice_id) as p_value
    from (
        select
            y.*,
            case
                when y.eligible = 1
                    and row_number() over (
                        partition by y.invoice_id order by y.eligible desc, y.burn_rank
                    ) = 1
                    then 1
                else 0
            end as picked,
            case when y.room is not null and y.room < y.value then y.room else y.value end as holds
        from (
            select
                z.*,
                case
                    when z.row_kind = 'grant' and z.available = 1 and z.done = 0 and z.balance > 0
                        then 1
                    else 0
                end as eligible,
                case
                    when z.row_kind = 'grant'
                        then {{ credits_money('z.balance', 'z.credit_rate', 'z.minor_units') }}
                end as value,
                -- while a top-up can follow: the money that brings the balance to the threshold
                case
                    when z.made < z.max_per_period
                        then {{ credits_money('z.total - z.threshold', 'z.credit_rate', 'z.minor_units', up=true) }}
                end as room
            from (
                select
                    s.*,
                    sum(
                        case when s.row_kind = 'grant' and s.available = 1 then s.balance end
                    ) over (partition by s.invoice_id) as total
                from s{{ k }}_topped as s
            ) as z
        ) as y
    ) as x
),

-- step {{ k }}, draw: the items it may pay, the one still owing most first
s{{ k }}_drawn as (
    select
        {%- for c in columns if c not in [] %}
        x.{{ c }},
        {%- endfor %}
        x.p_grant,
        x.p_holds,
        x.p_value,
        case
            when x.payable = 1 and x.cap - x.owed_before > 0
                then least(x.owed, x.cap - x.owed_before)
            else 0
        end as draw
    from (
        select
            y.*,
            least(y.p_holds, y.still_due) as cap,
            coalesce(sum(y.owed) over (
                partition by y.invoice_id, y.payable
                order by y.owed desc, y.item_order
                rows between unbounded preceding and 1 preceding
            ), 0) as owed_before
        from (
            select
                s.*,
                case
                    when s.row_kind = 'item'
                        and s.owed > 0
                        and s.p_grant is not null
                        and {{ grant_may_pay('s.p_applies', 's.item') }}
                        then 1
                    else 0
                end as payable
            from s{{ k }}_picked as s
        ) as y
    ) as x
),

-- step {{ k }}: what is left, what was paid, whether the grant drew all it could
state_{{ k }} as (
    select
        {%- for c in columns if c not in ['balance', 'done', 'owed', 'paid', 'still_due'] %}
        x.{{ c }},
        {%- endfor %}
        cast(x.balance - x.credits_drawn as {{ quantity_type() }}) as balance,
        case
            when x.is_picked = 1 and (x.money < x.p_holds or x.p_holds = x.p_value) then 1
            else x.done
        end as done,
        case when x.row_kind = 'item' then x.owed - x.draw else x.owed end as owed,
        case
            when x.row_kind = 'paid' and x.grant_id = x.p_grant then x.paid + x.item_draw
            else x.paid
        end as paid,
        x.still_due - x.money as still_due
    from (
        select
            y.*,
            case
                when y.is_picked = 0 or y.money <= 0 then cast(0 as {{ quantity_type() }})
                when y.money = y.p_value then y.balance
                else least({{ money_credits('y.money', 'y.credit_rate') }}, y.balance)
            end as credits_drawn
        from (
            select
                s.*,
                case when s.row_kind = 'grant' and s.grant_id = s.p_grant then 1 else 0 end
                    as is_picked,
                sum(s.draw) over (partition by s.invoice_id) as money,
                max(case when s.row_kind = 'item' then s.draw end)
                    over (partition by s.invoice_id, s.item) as item_draw
            from s{{ k }}_drawn as s
        ) as y
    ) as x
),
{%- endif %}
{%- endfor %}

final_state as (select * from s{{ steps + 1 }}_topped),

final as (
    select
        'draw' as entry_type,
        invoice_id,
        grant_id,
        item,
        cast(paid as {{ money_type() }}) as credits_applied,
        cast(null as string) as topup_id,
        cast(null as {{ quantity_type() }}) as topup_credits,
        cast(null as {{ money_type() }}) as purchase_amount
    from final_state
    where row_kind = 'paid'
        and paid > 0
    union all
    select
        'topup' as entry_type,
        s.invoice_id,
        s.grant_id,
        cast(null as string) as item,
        cast(0 as {{ money_type() }}) as credits_applied,
        r.topup_id,
        s.granted as topup_credits,
        case
            when r.kind = 'purchased'
                then {{ credits_money('s.granted', 'r.price_per_credit', 's.minor_units') }}
            else cast(0 as {{ money_type() }})
        end as purchase_amount
    from final_state as s
    inner join rules as r on s.invoice_id = r.invoice_id
    where s.row_kind = 'grant'
        and s.slot is not null
        and s.available = 1
)

select * from final
