-- Invoice lines of every period as the current data and price book give them (SPEC 3):
-- one usage line per charge and segment, a prorated base fee, and a minimum-commitment
-- true-up. Each line is rounded half-up to the currency's minor units.
with

segments as (select * from {{ ref('int_subscription_segments') }}),
usage as (select * from {{ ref('int_invoice_usage') }}),
charges as (select * from {{ ref('stg_pricing__charges') }}),
tiers as (select * from {{ ref('stg_pricing__charge_tiers') }}),

-- graduated: each tier prices the units inside it; every tier reached adds its flat fee
-- (the first tier's even at zero usage).
graduated as (
    select
        u.segment_id,
        u.charge_id,
        sum(
            (case
                when t.up_to is null or u.units < t.up_to then u.units
                else t.up_to
            end - t.lower_bound) * t.unit_price
            + t.flat_fee
        ) as amount
    from usage as u
    inner join tiers as t
        on u.plan_id = t.plan_id
        and u.plan_version = t.plan_version
        and u.charge_id = t.charge_id
    where t.tier_index = 1 or u.units > t.lower_bound
    group by 1, 2
),

-- volume: all units at the tier that contains the total (0 falls in the first tier).
volume as (
    select
        u.segment_id,
        u.charge_id,
        u.units * t.unit_price + t.flat_fee as amount
    from usage as u
    inner join tiers as t
        on u.plan_id = t.plan_id
        and u.plan_version = t.plan_version
        and u.charge_id = t.charge_id
    where (u.units > t.lower_bound or t.tier_index = 1)
        and (t.up_to is null or u.units <= t.up_to)
),

priced as (
    select
        u.segment_id,
        u.charge_id,
        u.units,
        case c.model
            when 'per_unit' then greatest(u.units - c.free_units, 0) * c.unit_price
            when 'graduated' then g.amount
            when 'volume' then v.amount
            when 'package' then
                {{ ceil_div_quantity('greatest(u.units - c.free_units, 0)', 'c.package_size') }}
                * c.package_price
            when 'percentage' then u.units * c.rate + u.billable_events * c.fixed_fee
        end as raw_amount
    from usage as u
    inner join charges as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
    left join graduated as g on u.segment_id = g.segment_id and u.charge_id = g.charge_id
    left join volume as v on u.segment_id = v.segment_id and u.charge_id = v.charge_id
),

usage_lines as (
    select
        s.segment_id,
        'usage' as line_type,
        p.charge_id,
        p.units as quantity,
        {{ round_money('p.raw_amount', 's.minor_units') }} as amount
    from priced as p
    inner join segments as s on p.segment_id = s.segment_id
),

base_fee_lines as (
    select
        segment_id,
        'base_fee' as line_type,
        cast(null as varchar) as charge_id,
        cast(segment_days as {{ quantity_type() }}) as quantity,
        cast({{ prorate_money('base_fee', 'segment_days', 'period_days', 'minor_units') }} as {{ money_type() }}) as amount
    from segments
    where base_fee > 0
),

usage_per_segment as (
    select segment_id, sum(amount) as usage_amount
    from usage_lines
    group by 1
),

minimum_lines as (
    select
        s.segment_id,
        'minimum_true_up' as line_type,
        cast(null as varchar) as charge_id,
        cast(s.segment_days as {{ quantity_type() }}) as quantity,
        cast(
            {{ prorate_money('s.minimum_commitment', 's.segment_days', 's.period_days', 's.minor_units') }}
            - coalesce(u.usage_amount, 0)
            as {{ money_type() }}
        ) as amount
    from segments as s
    left join usage_per_segment as u on s.segment_id = u.segment_id
    where s.minimum_commitment > 0
),

all_lines as (
    select * from usage_lines
    union all
    select * from base_fee_lines
    union all
    select * from minimum_lines where amount > 0
),

final as (
    select
        'INV-' || {{ month_key('s.period_start') }} || '-' || s.customer_id as invoice_id,
        'INV-' || {{ month_key('s.period_start') }} || '-' || s.customer_id
            || ':' || l.segment_id || ':' || l.line_type || ':' || coalesce(l.charge_id, '') as invoice_line_id,
        s.customer_id,
        s.period_start,
        s.period_end,
        l.segment_id,
        s.plan_id,
        s.plan_version,
        l.line_type,
        l.charge_id,
        l.quantity,
        l.amount,
        s.currency
    from all_lines as l
    inner join segments as s on l.segment_id = s.segment_id
)

select * from final
