-- Invoice lines of every period as the current data and price book give them, per segment:
-- one usage line per charge (per group of a grouped charge, with its group_key, each at its
-- group's price), each charge's minimum true-up or spend cap (on all its groups), a prorated base fee,
-- then the plan's minimum true-up and spend cap (measured on usage and the charges'
-- commitment lines, not the base fee). Each line is rounded half-up to the currency's minor
-- units; commitments are prorated by days like the base fee.
-- `tax_rate` is the rate of the item the line belongs to (int_invoice_items).
-- `projected_amount` prices the usage projected to the segment's end the same way (it equals
-- `amount` once the segment is over); mart_customer_spend shows it as the month-end estimate.
-- A charge priced apart from its units (int_invoice_usage.priced_amount: buckets, or events
-- priced one by one) is that exact amount, rounded once. Its projection scales the amount:
-- a bucketed charge adds the mean bucket so far for each bucket left (amount x buckets in the
-- segment / buckets begun), one priced by event by the time elapsed, like any flow.
{#- a charge's commitments are prorated over the rating period's days (the billing period's, or
    its month's when usage is invoiced monthly); the plan's over the days held of the period -#}
{%- set rating_days = 'coalesce(s.rating_days, s.period_days)' %}
{%- set held = 'coalesce(s.held_days, s.segment_days)' %}
with

segments as (select * from {{ ref('int_subscription_segments') }}),
usage as (select *, coalesce(group_key, '') as group_id from {{ ref('int_invoice_usage') }}),
charges as (select * from {{ ref('stg_pricing__charges') }}),
plans as (select * from {{ ref('stg_pricing__plans') }}),
customers as (select * from {{ ref('stg_reference__customers') }}),
prices as (select * from {{ ref('stg_pricing__charge_prices') }}),
tiers as (select * from {{ ref('stg_pricing__charge_tiers') }}),

projected_usage as (
    select
        segment_id,
        plan_id,
        plan_version,
        charge_id,
        group_id,
        price_index,
        projected_units as units,
        projected_billable_events as billable_events
    from usage
),

priced as ({{ price_usage('usage', 'prices', 'tiers', keys=['group_id']) }}),
priced_projection as ({{ price_usage('projected_usage', 'prices', 'tiers', keys=['group_id']) }}),

priced_apart as (
    {#- the time it is projected over, in buckets (whole ones, begun) or in seconds #}
    {%- set step = "case c.bucket when 'hour' then 3600 when 'day' then 86400 else 1 end" %}
    select
        u.segment_id,
        u.charge_id,
        u.group_id,
        u.priced_amount,
        u.elapsed_seconds,
        u.segment_seconds,
        {{ int_div('u.segment_seconds', step) }} as steps_in_segment,
        {{ int_div('u.elapsed_seconds + ' ~ step ~ ' - 1', step) }} as steps_elapsed
    from usage as u
    inner join charges as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    where u.priced_amount is not null
),

usage_lines as (
    select
        s.segment_id,
        'usage' as line_type,
        p.charge_id,
        nullif(p.group_id, '') as group_key,
        p.units as quantity,
        {{ round_money('coalesce(b.priced_amount, p.raw_amount)', 's.minor_units') }} as amount,
        case
            when b.segment_id is null then {{ round_money('pp.raw_amount', 's.minor_units') }}
            when b.elapsed_seconds in (0, b.segment_seconds) then {{ round_money('b.priced_amount', 's.minor_units') }}
            else cast({{ prorate_money('b.priced_amount', 'b.steps_in_segment', 'b.steps_elapsed', 's.minor_units') }} as {{ money_type() }})
        end as projected_amount
    from priced as p
    inner join priced_projection as pp
        on p.segment_id = pp.segment_id
        and p.charge_id = pp.charge_id
        and p.group_id = pp.group_id
    inner join segments as s on p.segment_id = s.segment_id
    left join priced_apart as b
        on p.segment_id = b.segment_id
        and p.charge_id = b.charge_id
        and p.group_id = b.group_id
),

-- A charge's usage over all its groups, what its commitments measure.
usage_per_charge as (
    select segment_id, charge_id, sum(amount) as amount, sum(projected_amount) as projected_amount
    from usage_lines
    group by 1, 2
),

-- The base fee, each line with the days it pays for (service_start/end; transforms/cadence.py
-- `base_fees` is the reference). It is the billing period's: prorated by the days the
-- subscription holds of the whole period (held_days), on the period's last invoice in arrears
-- (with usage invoiced monthly: the month the subscription's days in it end), on its first in
-- advance. In advance, also: on the period's last invoice, the next billing period's whole
-- fee while the subscription holds that period's first day; and, in a period paid in advance
-- that the subscription leaves early, its unused days credited (a negative line). key_day:
-- the first day a line is for, in its id, when that is not its own period's; priced_by: the
-- plan version whose fee the next period's line is (the one in force when it starts).
fee_segments as (
    select
        segment_id,
        base_fee,
        next_base_fee,
        base_fee_timing,
        paid_ahead,
        bills_next_period,
        minor_units,
        period_days,
        billing_period_end,
        next_period_end,
        next_plan_version,
        coalesce(held_days, segment_days) as held_days,
        coalesce(held_from, segment_start) as held_from,
        coalesce(held_to, segment_end) as held_to,
        coalesce(first_part, true) as first_part,
        coalesce(last_part, true) as last_part
    from segments
),

base_fee_lines as (
    select
        segment_id,
        cast(held_days as {{ quantity_type() }}) as quantity,
        cast({{ prorate_money('base_fee', 'held_days', 'period_days', 'minor_units') }} as {{ money_type() }}) as amount,
        held_from as service_start,
        held_to as service_end,
        cast(null as date) as key_day,
        cast(null as integer) as priced_by
    from fee_segments
    where base_fee > 0
        and not coalesce(paid_ahead, false)
        and case when base_fee_timing = 'in_advance' then first_part else last_part end
    union all
    select
        segment_id,
        cast(held_days - period_days as {{ quantity_type() }}) as quantity,
        cast(-{{ prorate_money('base_fee', 'period_days - held_days', 'period_days', 'minor_units') }} as {{ money_type() }}) as amount,
        held_to as service_start,
        billing_period_end as service_end,
        held_to as key_day,
        cast(null as integer) as priced_by
    from fee_segments
    where base_fee > 0 and paid_ahead and last_part and held_to < billing_period_end
    union all
    select
        segment_id,
        cast({{ dbt.datediff('billing_period_end', 'next_period_end', 'day') }} as {{ quantity_type() }}) as quantity,
        cast({{ round_money('next_base_fee', 'minor_units') }} as {{ money_type() }}) as amount,
        billing_period_end as service_start,
        next_period_end as service_end,
        billing_period_end as key_day,
        next_plan_version as priced_by
    from fee_segments
    where next_base_fee > 0 and bills_next_period and last_part
),

-- A charge's commitments, on its usage line: a true-up to its prorated minimum, a spend cap
-- (negative) down to its prorated maximum. Kept when the invoice or the projection has one
-- (int_invoice_lines leaves out the lines of 0 that only the projection needs).
charge_commitments as (
    select
        u.segment_id,
        u.charge_id,
        s.segment_days,
        u.amount,
        u.projected_amount,
        cast({{ prorate_money('c.minimum', 's.segment_days', rating_days, 's.minor_units') }} as {{ money_type() }}) as minimum,
        cast({{ prorate_money('c.maximum', 's.segment_days', rating_days, 's.minor_units') }} as {{ money_type() }}) as maximum
    from usage_per_charge as u
    inner join segments as s on u.segment_id = s.segment_id
    inner join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    where c.minimum is not null or c.maximum is not null
),

charge_lines as (
    {{ commitment_lines('charge_commitments', 'charge_id') }}
),

-- What the plan's commitments measure: usage and the charges' commitment lines, not the base
-- fee.
usage_per_segment as (
    select segment_id, sum(amount) as amount, sum(projected_amount) as projected_amount
    from (
        select segment_id, amount, projected_amount from usage_lines
        union all
        select segment_id, amount, projected_amount from charge_lines
    ) as measured
    group by 1
),

-- The plan's commitments stay the billing period's: prorated by the days the subscription
-- holds of the whole period, measured on what its invoices of the period measure so far
-- (with usage invoiced monthly, the months up to this one). Each invoice's cap is the excess
-- over the maximum so far less the cap already on the period's earlier invoices (so the caps
-- add up to the period's excess); the true-up is on the period's last invoice
-- (transforms/cadence.py `period_commitments`). A period invoiced whole: one of each.
plan_measured as (
    select
        s.segment_id,
        coalesce(s.subscription_id, s.segment_id) || ':'
            || cast(coalesce(s.billing_period_start, s.period_start) as string) as segment_key,
        s.period_start,
        coalesce(s.last_part, true) as last_part,
        {{ held }} as held_days,
        coalesce(u.amount, 0) as amount,
        coalesce(u.projected_amount, 0) as projected_amount,
        cast({{ prorate_money('s.minimum_commitment', held, 's.period_days', 's.minor_units') }} as {{ money_type() }}) as minimum,
        cast({{ prorate_money('s.maximum_commitment', held, 's.period_days', 's.minor_units') }} as {{ money_type() }}) as maximum
    from segments as s
    left join usage_per_segment as u on s.segment_id = u.segment_id
    where s.minimum_commitment > 0 or s.maximum_commitment is not null
),

plan_running as (
    select
        *,
        sum(amount) over so_far as amount_so_far,
        sum(projected_amount) over so_far as projected_so_far,
        coalesce(sum(amount) over before, 0) as amount_before,
        coalesce(sum(projected_amount) over before, 0) as projected_before
    from plan_measured
    window
        so_far as (
            partition by segment_key order by period_start
            rows between unbounded preceding and current row
        ),
        before as (
            partition by segment_key order by period_start
            rows between unbounded preceding and 1 preceding
        )
),

plan_lines as (
    select * from (
        select
            segment_id,
            'minimum_true_up' as line_type,
            cast(null as string) as charge_id,
            cast(held_days as {{ quantity_type() }}) as quantity,
            cast(greatest(minimum - amount_so_far, 0) as {{ money_type() }}) as amount,
            cast(greatest(minimum - projected_so_far, 0) as {{ money_type() }}) as projected_amount
        from plan_running
        where minimum is not null and last_part
        union all
        select
            segment_id,
            'spend_cap' as line_type,
            cast(null as string) as charge_id,
            cast(held_days as {{ quantity_type() }}) as quantity,
            cast(
                -(greatest(amount_so_far - maximum, 0) - greatest(amount_before - maximum, 0))
                as {{ money_type() }}
            ) as amount,
            cast(
                -(greatest(projected_so_far - maximum, 0) - greatest(projected_before - maximum, 0))
                as {{ money_type() }}
            ) as projected_amount
        from plan_running
        where maximum is not null
    ) as lines
    where amount <> 0 or projected_amount <> 0
),

all_lines as (
    {%- set columns = 'segment_id, line_type, charge_id, group_key, quantity, amount' %}
    {%- set no_group = 'segment_id, line_type, charge_id, cast(null as string) as group_key, quantity, amount' %}
    {%- set own_days = 'cast(null as date) as service_start, cast(null as date) as service_end, cast(null as date) as key_day, cast(null as integer) as priced_by' %}
    select {{ columns }}, projected_amount, {{ own_days }} from usage_lines
    union all
    select {{ no_group }}, projected_amount, {{ own_days }} from charge_lines
    union all
    select
        segment_id, 'base_fee' as line_type, cast(null as string) as charge_id,
        cast(null as string) as group_key, quantity, amount, amount as projected_amount,
        service_start, service_end, key_day, priced_by
    from base_fee_lines
    union all
    select {{ no_group }}, projected_amount, {{ own_days }} from plan_lines
),

final as (
    select
        'INV-' || {{ period_key('s.period_start') }} || '-' || s.customer_id as invoice_id,
        'INV-' || {{ period_key('s.period_start') }} || '-' || s.customer_id
            || ':' || l.segment_id || ':' || l.line_type || ':' || coalesce(l.charge_id, '')
            || coalesce(':' || l.group_key, '')
            -- a fee for other days than the segment's (in advance): the first of them
            || coalesce(':' || {{ period_key('l.key_day') }}, '') as invoice_line_id,
        s.customer_id,
        s.period_start,
        s.period_end,
        l.segment_id,
        -- the days the line's figure is prorated over: the billing period's (a fee, the plan's
        -- commitments), or for a charge's commitments the rating period's (a month when usage
        -- is invoiced monthly)
        case
            when l.line_type in ('minimum_true_up', 'spend_cap') and l.charge_id is not null
                then {{ rating_days }}
            else s.period_days
        end as period_days,
        -- the days the line is for: the segment's, or a fee's in advance (base_fee_lines)
        coalesce(l.service_start, s.segment_start) as service_period_start,
        coalesce(l.service_end, s.segment_end) as service_period_end,
        s.plan_id,
        coalesce(l.priced_by, s.plan_version) as plan_version,
        l.line_type,
        l.charge_id,
        l.group_key,
        l.quantity,
        l.amount,
        l.projected_amount,
        s.currency,
        -- The line's tax rate: a charge's lines the charge's, else the plan's, else the
        -- customer's; the base fee and the plan's commitments the plan's, else the customer's.
        cast(
            coalesce(case when l.charge_id is not null then c.tax_rate end, p.tax_rate, cu.tax_rate, 0)
            as decimal(38, 12)
        ) as tax_rate
    from all_lines as l
    inner join segments as s on l.segment_id = s.segment_id
    left join plans as p
        on s.plan_id = p.plan_id
        and s.plan_version = p.plan_version
    left join charges as c
        on s.plan_id = c.plan_id
        and s.plan_version = c.plan_version
        and l.charge_id = c.charge_id
    left join customers as cu on s.customer_id = cu.customer_id
)

select * from final
