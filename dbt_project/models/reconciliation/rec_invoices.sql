-- Invoices agree with themselves, with usage and with the credit ledger:
--   usage_differs_from_invoice   billable usage in fct_usage_daily vs the quantity on a draft
--                                invoice, per customer, period and charge (sum and count
--                                charges; max, unique_count and latest are not additive over
--                                days; a recurring sum adds what it carried from before the
--                                segment). Issued invoices differ by design once usage arrives
--                                late: rec_adjustments reports what that changes.
--   lines_differ_from_subtotal   the sum of an invoice's lines vs its subtotal
--   items_differ_from_subtotal   the sum of an invoice's items (fct_invoice_items) vs its subtotal
--   tax_differs_from_items       the sum of an invoice's items' taxes vs its tax
--   total_differs_from_credits   total vs subtotal + tax - credits_applied (and never negative)
--   credits_differ_from_ledger   credits_applied of an issued invoice vs its ledger consumption
--   negative_level               a weighted_sum charge's level below zero over a segment (more
--                                detached than attached): priced as 0; a warning, per segment
--   high_group_cardinality       a grouped charge with more than 1,000 groups for one customer
--                                and period; a warning, every group is billed
--   usage_without_subscription   usage on days the customer has no subscription: nothing bills
--                                it (revenue leakage, or events with a wrong timestamp), per
--                                customer, month and metric; a warning for a person to look at
{%- set q = quantity_type() %}
with

invoices as (select * from {{ ref('fct_invoices') }}),
lines as (select * from {{ ref('fct_invoice_lines') }}),
items as (select * from {{ ref('fct_invoice_items') }}),
usage_daily as (select * from {{ ref('fct_usage_daily') }}),
charge_usage as (select * from {{ ref('int_invoice_usage') }}),
ledger as (select * from {{ ref('fct_credit_ledger') }}),
event_groups as (select * from {{ ref('int_usage_event_groups') }}),

aggregations as (
    select
        customer_id,
        period_start,
        charge_id,
        max(aggregation) as aggregation,
        sum(carried_units) as carried_units
    from charge_usage
    group by 1, 2, 3
),

invoiced as (
    select customer_id, period_start, charge_id, sum(quantity) as quantity
    from lines
    where line_type = 'usage'
    group by 1, 2, 3
),

used as (
    select
        customer_id,
        period_start,
        charge_id,
        sum(billable_quantity) as quantity,
        sum(billable_events) as events
    from usage_daily
    where charge_id is not null
    group by 1, 2, 3
),

usage_vs_invoice as (
    select
        'usage_differs_from_invoice' as check_name,
        'error' as severity,
        a.customer_id,
        a.period_start,
        a.charge_id as subject,
        cast(case a.aggregation when 'count' then coalesce(u.events, 0)
            else coalesce(u.quantity, 0) + a.carried_units end as {{ q }}) as expected,
        cast(coalesce(v.quantity, 0) as {{ q }}) as actual
    from aggregations as a
    inner join invoices as i
        on a.customer_id = i.customer_id
        and a.period_start = i.period_start
    left join used as u
        on a.customer_id = u.customer_id
        and a.period_start = u.period_start
        and a.charge_id = u.charge_id
    left join invoiced as v
        on a.customer_id = v.customer_id
        and a.period_start = v.period_start
        and a.charge_id = v.charge_id
    where a.aggregation in ('sum', 'count')
        and i.status = 'draft'
),

line_totals as (
    select invoice_id, sum(amount) as amount
    from lines
    group by 1
),

lines_vs_subtotal as (
    select
        'lines_differ_from_subtotal' as check_name,
        'error' as severity,
        i.customer_id,
        i.period_start,
        i.invoice_id as subject,
        cast(i.subtotal as {{ q }}) as expected,
        cast(coalesce(l.amount, 0) as {{ q }}) as actual
    from invoices as i
    left join line_totals as l on i.invoice_id = l.invoice_id
),

item_totals as (
    select invoice_id, sum(amount) as amount, sum(tax) as tax
    from items
    group by 1
),

items_vs_subtotal as (
    select
        'items_differ_from_subtotal' as check_name,
        'error' as severity,
        i.customer_id,
        i.period_start,
        i.invoice_id as subject,
        cast(i.subtotal as {{ q }}) as expected,
        cast(coalesce(t.amount, 0) as {{ q }}) as actual
    from invoices as i
    left join item_totals as t on i.invoice_id = t.invoice_id
),

tax_vs_items as (
    select
        'tax_differs_from_items' as check_name,
        'error' as severity,
        i.customer_id,
        i.period_start,
        i.invoice_id as subject,
        cast(coalesce(t.tax, 0) as {{ q }}) as expected,
        cast(i.tax as {{ q }}) as actual
    from invoices as i
    left join item_totals as t on i.invoice_id = t.invoice_id
),

totals as (
    select
        'total_differs_from_credits' as check_name,
        'error' as severity,
        customer_id,
        period_start,
        invoice_id as subject,
        cast(greatest(subtotal + tax - credits_applied, 0) as {{ q }}) as expected,
        cast(total as {{ q }}) as actual
    from invoices
),

consumed as (
    select invoice_id, sum(money) as money
    from ledger
    where entry_type = 'consumption'
    group by 1
),

credits_vs_ledger as (
    select
        'credits_differ_from_ledger' as check_name,
        'error' as severity,
        i.customer_id,
        i.period_start,
        i.invoice_id as subject,
        cast(coalesce(c.money, 0) as {{ q }}) as expected,
        cast(i.credits_applied as {{ q }}) as actual
    from invoices as i
    left join consumed as c on i.invoice_id = c.invoice_id
    where i.status = 'issued'
),

uncovered as (
    select
        'usage_without_subscription' as check_name,
        'warning' as severity,
        customer_id,
        {{ month_start('usage_date') }} as period_start,
        metric as subject,
        cast(0 as {{ q }}) as expected,
        cast(sum(events) as {{ q }}) as actual
    from event_groups
    where segment_id is null
    group by 1, 2, 3, 4, 5
),

-- A weighted_sum charge whose level ended a segment below zero (more detached than attached):
-- priced as 0, and said here for a person to look at.
negative_levels as (
    select
        'negative_level' as check_name,
        'warning' as severity,
        customer_id,
        period_start,
        charge_id as subject,
        cast(0 as {{ q }}) as expected,
        cast(count(*) as {{ q }}) as actual
    from charge_usage
    where level_below_zero
    group by 1, 2, 3, 4, 5
),

-- A grouped charge split into more than 1,000 groups for one customer and period (Metronome
-- asks to be contacted as a group key nears 1,000 values): every group is billed; said here.
many_groups as (
    select
        'high_group_cardinality' as check_name,
        'warning' as severity,
        customer_id,
        period_start,
        charge_id as subject,
        cast(1000 as {{ q }}) as expected,
        cast(count(distinct group_key) as {{ q }}) as actual
    from charge_usage
    where group_key is not null
    group by 1, 2, 3, 4, 5
    having count(distinct group_key) > 1000
),

final as (
    select * from usage_vs_invoice
    union all
    select * from uncovered
    union all
    select * from negative_levels
    union all
    select * from many_groups
    union all
    select * from lines_vs_subtotal
    union all
    select * from items_vs_subtotal
    union all
    select * from tax_vs_items
    union all
    select * from totals
    union all
    select * from credits_vs_ledger
)

select {{ finding_columns() }}
from final
where expected <> actual
