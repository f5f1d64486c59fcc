-- Credits a draft invoice would receive if its month closed now, one row per grant and item it
-- would pay: the same rule as month close (transforms/credits.py), over balances left after
-- the issued months (int_credit_grants: one-off grants and recurring grants' instances, with
-- what rollovers carried). Only each customer's earliest open period gets an estimate: months
-- close in order, and a later open period's credits depend on what the earlier one will draw.
-- Grants go in burn order (priority, expiry with never-expiring last, promotional first,
-- oldest, grant id); each pays the items it may pay (grant_may_pay), the one still owing most
-- first (ties: item order), each draw min(what the item still owes, the money the grant still
-- holds, what the invoice still owes); a grant holds round(balance x credit_rate). Each grant
-- works on what the ones before it left: one unrolled step per grant an invoice can draw on at
-- most (unrolled_steps).
{%- set invoices = ref('int_invoices_with_adjustments') %}
{#- what a grant still holds: its credits, what a rollover carried in or out, less what closed
    months drew #}
{%- set balance = 'g.credits + g.rolled_in - g.settled_out - coalesce(u.credits, 0)' %}
{%- set candidates_sql %}
    select
        o.invoice_id,
        o.subtotal + o.tax as due,
        g.grant_id,
        g.applies_to,
        g.priority,
        g.expires_at,
        g.kind,
        g.granted_at,
        {{ round_money('(' ~ balance ~ ') * o.credit_rate', 'c.minor_units') }} as money_value
    from (
        select
            i.*,
            row_number() over (partition by i.customer_id order by i.period_start) as open_rank
        from {{ invoices }} as i
        where i.invoice_id not in (select invoice_id from {{ ref('stg_issued__invoices') }})
    ) as o
    inner join {{ ref('int_credit_grants') }} as g
        on o.customer_id = g.customer_id
        and g.granted_at < o.period_end
        and (g.expires_at is null or g.expires_at >= o.period_end)
    inner join {{ ref('stg_reference__currencies') }} as c on o.currency = c.currency
    left join (
        select grant_id, sum(credits) as credits
        from {{ ref('stg_issued__credit_consumption') }}
        group by 1
    ) as u on g.grant_id = u.grant_id
    where o.open_rank = 1
        and o.credit_rate > 0
        and {{ balance }} > 0
{%- endset %}
{%- set steps = unrolled_steps('credit_steps', invoices, candidates_sql) %}
with

items as (select * from {{ ref('int_invoice_items') }}),

grants as (
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
        ) as grant_rank
    from ({{ candidates_sql }}) as c
    where money_value > 0
),

owed_0 as (
    select i.invoice_id, i.item, i.item_order, i.due as owed
    from items as i
    where i.invoice_id in (select invoice_id from grants)
),

due_0 as (
    select distinct invoice_id, due as still_due
    from grants
),
{%- for k in range(1, steps + 1) %}

step_{{ k }}_payable as (
    select
        o.invoice_id,
        o.item,
        o.owed,
        g.grant_id,
        least(g.money_value, d.still_due) as cap,
        coalesce(sum(o.owed) over (
            partition by o.invoice_id
            order by o.owed desc, o.item_order
            rows between unbounded preceding and 1 preceding
        ), 0) as owed_before
    from owed_{{ k - 1 }} as o
    inner join grants as g
        on o.invoice_id = g.invoice_id
        and g.grant_rank = {{ k }}
    inner join due_{{ k - 1 }} as d on o.invoice_id = d.invoice_id
    where o.owed > 0
        and {{ grant_may_pay('g.applies_to', 'o.item') }}
),

step_{{ k }}_draws as (
    select invoice_id, grant_id, item, least(owed, cap - owed_before) as money
    from step_{{ k }}_payable
    where cap - owed_before > 0
),

owed_{{ k }} as (
    select o.invoice_id, o.item, o.item_order, o.owed - coalesce(w.money, 0) as owed
    from owed_{{ k - 1 }} as o
    left join step_{{ k }}_draws as w
        on o.invoice_id = w.invoice_id
        and o.item = w.item
),

due_{{ k }} as (
    select d.invoice_id, d.still_due - coalesce(w.money, 0) as still_due
    from due_{{ k - 1 }} as d
    left join (
        select invoice_id, sum(money) as money
        from step_{{ k }}_draws
        group by 1
    ) as w on d.invoice_id = w.invoice_id
),
{%- endfor %}

draws as (
    {%- for k in range(1, steps + 1) %}
    select invoice_id, grant_id, item, money from step_{{ k }}_draws
    union all
    {%- endfor %}
    select
        cast(null as string) as invoice_id,
        cast(null as string) as grant_id,
        cast(null as string) as item,
        cast(null as {{ money_type() }}) as money
    from due_0
    where false
),

final as (
    select
        invoice_id,
        grant_id,
        item,
        cast(money as {{ money_type() }}) as credits_applied
    from draws
)

select * from final
