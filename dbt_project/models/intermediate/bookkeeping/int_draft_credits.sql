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
{#- the customer's top-up rule in force: the period's last day is after starts_on and on or
    before ends_on #}
{%- set last_day = 'cast(' ~ dbt.dateadd('day', -1, 'o.period_end') ~ ' as date)' %}
{%- set rules_sql %}
    select
        o.invoice_id,
        o.period_start,
        {{ last_day }} as last_day,
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
        and (r.starts_on is null or r.starts_on < {{ last_day }})
        and (r.ends_on is null or {{ last_day }} <= r.ends_on)
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
with

items as (select * from {{ ref('int_invoice_items') }}),
rules as ({{ rules_sql }}),

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

state_0 as (
    select
        invoice_id,
        grant_id,
        burn_rank,
        applies_to,
        slot,
        cast(balance as {{ quantity_type() }}) as balance,
        case when slot is null then 1 else 0 end as available,
        0 as done,
        cast(null as {{ quantity_type() }}) as granted
    from buckets
),

inv_0 as (
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
    where o.invoice_id in (select invoice_id from buckets)
),

owed_0 as (
    select i.invoice_id, i.item, i.item_order, i.due as owed
    from items as i
    where i.invoice_id in (select invoice_id from inv_0)
),
{%- for k in range(1, steps + 2) %}

-- step {{ k }}, top up: the top-ups the balance at or below the threshold makes now
s{{ k }}_topups as (
    select
        i.*,
        coalesce(t.total, 0) as total_before,
        case
            when i.max_per_period is null
                or i.made >= i.max_per_period
                or coalesce(t.total, 0) > i.threshold
                then 0
            when i.topup_credits is null then 1
            else least(
                i.max_per_period - i.made,
                {{ floor_div_quantity('i.threshold - coalesce(t.total, 0)', 'i.topup_credits') }} + 1
            )
        end as new_topups
    from inv_{{ k - 1 }} as i
    left join (
        select invoice_id, sum(balance) as total
        from state_{{ k - 1 }}
        where available = 1
        group by 1
    ) as t on i.invoice_id = t.invoice_id
),

s{{ k }}_state as (
    select
        s.invoice_id,
        s.grant_id,
        s.burn_rank,
        s.applies_to,
        s.slot,
        case when m.slot_made = 1 then m.topup else s.balance end as balance,
        case when m.slot_made = 1 then 1 else s.available end as available,
        s.done,
        case when m.slot_made = 1 then m.topup else s.granted end as granted
    from state_{{ k - 1 }} as s
    inner join (
        select
            ss.invoice_id,
            ss.grant_id,
            case
                when ss.slot > i.made and ss.slot <= i.made + i.new_topups then 1 else 0
            end as slot_made,
            cast(coalesce(i.topup_credits, i.target_credits - i.total_before)
                as {{ quantity_type() }}) as topup
        from state_{{ k - 1 }} as ss
        inner join s{{ k }}_topups as i on ss.invoice_id = i.invoice_id
    ) as m
        on s.invoice_id = m.invoice_id
        and s.grant_id = m.grant_id
),
{%- if k <= steps %}

-- step {{ k }}, draw: the first grant in burn order that can still draw
s{{ k }}_room as (
    select
        i.invoice_id,
        i.still_due,
        i.made + i.new_topups as made,
        i.credit_rate,
        i.minor_units,
        i.threshold,
        i.topup_credits,
        i.target_credits,
        i.max_per_period,
        case
            when i.made + i.new_topups < i.max_per_period
                then {{ credits_money('t.total - i.threshold', 'i.credit_rate', 'i.minor_units', up=true) }}
        end as room
    from s{{ k }}_topups as i
    left join (
        select invoice_id, sum(balance) as total
        from s{{ k }}_state
        where available = 1
        group by 1
    ) as t on i.invoice_id = t.invoice_id
),

s{{ k }}_picked as (
    select
        p.*,
        case when p.room is not null and p.room < p.value then p.room else p.value end as holds
    from (
        select
            s.invoice_id,
            s.grant_id,
            s.applies_to,
            s.balance,
            r.still_due,
            r.room,
            r.credit_rate,
            {{ credits_money('s.balance', 'r.credit_rate', 'r.minor_units') }} as value,
            row_number() over (partition by s.invoice_id order by s.burn_rank) as pick_rank
        from s{{ k }}_state as s
        inner join s{{ k }}_room as r on s.invoice_id = r.invoice_id
        where s.available = 1
            and s.done = 0
            and s.balance > 0
    ) as p
    where p.pick_rank = 1
),

s{{ k }}_payable as (
    select
        o.invoice_id,
        o.item,
        o.owed,
        g.grant_id,
        least(g.holds, g.still_due) as cap,
        coalesce(sum(o.owed) over (
            partition by o.invoice_id
            order by o.owed desc, o.item_order
            rows between unbounded preceding and 1 preceding
        ), 0) as owed_before
    from owed_{{ k - 1 }} as o
    inner join s{{ k }}_picked as g on o.invoice_id = g.invoice_id
    where o.owed > 0
        and {{ grant_may_pay('g.applies_to', 'o.item') }}
),

s{{ k }}_draws as (
    select invoice_id, grant_id, item, least(owed, cap - owed_before) as money
    from s{{ k }}_payable
    where cap - owed_before > 0
),

s{{ k }}_drawn as (
    select
        g.invoice_id,
        g.grant_id,
        case
            when coalesce(w.money, 0) <= 0 then cast(0 as {{ quantity_type() }})
            when w.money = g.value then g.balance
            else least({{ money_credits('w.money', 'g.credit_rate') }}, g.balance)
        end as credits,
        -- it drew all it could, unless the threshold stopped it
        case when coalesce(w.money, 0) < g.holds or g.holds = g.value then 1 else 0 end as done
    from s{{ k }}_picked as g
    left join (
        select invoice_id, grant_id, sum(money) as money
        from s{{ k }}_draws
        group by 1, 2
    ) as w
        on g.invoice_id = w.invoice_id
        and g.grant_id = w.grant_id
),

state_{{ k }} as (
    select
        s.invoice_id,
        s.grant_id,
        s.burn_rank,
        s.applies_to,
        s.slot,
        cast(s.balance - coalesce(d.credits, 0) as {{ quantity_type() }}) as balance,
        s.available,
        coalesce(d.done, s.done) as done,
        s.granted
    from s{{ k }}_state as s
    left join s{{ k }}_drawn as d
        on s.invoice_id = d.invoice_id
        and s.grant_id = d.grant_id
),

owed_{{ k }} as (
    select o.invoice_id, o.item, o.item_order, o.owed - coalesce(w.money, 0) as owed
    from owed_{{ k - 1 }} as o
    left join s{{ k }}_draws as w
        on o.invoice_id = w.invoice_id
        and o.item = w.item
),

inv_{{ k }} as (
    select
        r.invoice_id,
        r.still_due - coalesce(w.money, 0) as still_due,
        r.made,
        r.credit_rate,
        r.minor_units,
        r.threshold,
        r.topup_credits,
        r.target_credits,
        r.max_per_period
    from s{{ k }}_room as r
    left join (
        select invoice_id, sum(money) as money
        from s{{ k }}_draws
        group by 1
    ) as w on r.invoice_id = w.invoice_id
),
{%- endif %}
{%- endfor %}

draws as (
    {%- for k in range(1, steps + 1) %}
    select invoice_id, grant_id, item, money from s{{ k }}_draws
    union all
    {%- endfor %}
    select
        cast(null as string) as invoice_id,
        cast(null as string) as grant_id,
        cast(null as string) as item,
        cast(null as {{ money_type() }}) as money
    from inv_0
    where false
),

final as (
    select
        'draw' as entry_type,
        invoice_id,
        grant_id,
        item,
        cast(money as {{ money_type() }}) as credits_applied,
        cast(null as string) as topup_id,
        cast(null as {{ quantity_type() }}) as topup_credits,
        cast(null as {{ money_type() }}) as purchase_amount
    -- a grant stopped at the threshold pays an item again after the top-up
    from (select invoice_id, grant_id, item, sum(money) as money from draws group by 1, 2, 3) as d
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
                then {{ credits_money('s.granted', 'r.price_per_credit', 'o.minor_units') }}
            else cast(0 as {{ money_type() }})
        end as purchase_amount
    from s{{ steps + 1 }}_state as s
    inner join rules as r on s.invoice_id = r.invoice_id
    inner join inv_0 as o on s.invoice_id = o.invoice_id
    where s.slot is not null
        and s.available = 1
)

select * from final
