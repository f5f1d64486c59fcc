{#-
  The pricing models over a usage relation with columns
  (segment_id, plan_id, plan_version, charge_id, price_index, units, billable_events) and any
  further `keys` that tell its rows apart (a charge's groups, buckets). Returns one row per
  usage row: the keys (segment_id, charge_id, ...), units, raw_amount (unrounded). Shared by
  the invoice lines, the month-end projection and the buckets, so all price the same way.
  `prices` (stg_pricing__charge_prices: a charge's own price and its group prices) and
  `tiers` are the staged price book tables; a row is priced by its price_index.
-#}
{% macro price_usage(usage, charges, tiers, keys=[]) -%}
    {#- `charges`: the prices relation (see above) #}
    {%- set key = ['segment_id', 'charge_id'] + keys %}
    with

    -- graduated (and graduated_percentage, whose tiers have a rate): each tier prices the
    -- units inside it; every tier reached adds its flat fee (the first tier's even at zero
    -- usage).
    graduated as (
        select
            {%- for k in key %}
            u.{{ k }},
            {%- endfor %}
            sum(
                {{ tally.tier_price('t', '(case
                    when t.up_to is null or u.units < t.up_to then u.units
                    else t.up_to
                end - t.lower_bound)') }}
                + t.flat_fee
            ) as amount
        from {{ usage }} as u
        inner join {{ tiers }} as t
            on u.plan_id = t.plan_id
            and u.plan_version = t.plan_version
            and u.charge_id = t.charge_id
            and u.price_index = t.price_index
        where t.tier_index = 1 or u.units > t.lower_bound
        group by {% for k in key %}{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
    ),

    -- volume: all units at the tier that contains the total (0 falls in the first tier).
    volume as (
        select
            {%- for k in key %}
            u.{{ k }},
            {%- endfor %}
            {{ tally.tier_price('t', 'u.units') }} + t.flat_fee as amount
        from {{ usage }} as u
        inner join {{ tiers }} as t
            on u.plan_id = t.plan_id
            and u.plan_version = t.plan_version
            and u.charge_id = t.charge_id
            and u.price_index = t.price_index
        where (u.units > t.lower_bound or t.tier_index = 1)
            and (t.up_to is null or u.units <= t.up_to)
    )

    select
        {%- for k in key %}
        u.{{ k }},
        {%- endfor %}
        u.units,
        case c.model
            when 'per_unit' then greatest(u.units - c.free_units, 0) * c.unit_price
            when 'graduated' then g.amount
            when 'graduated_percentage' then g.amount
            when 'volume' then v.amount
            when 'package' then
                case
                    when c.rounding = 'down' then
                        {{ floor_div_quantity('greatest(u.units - c.free_units, 0)', 'c.package_size') }}
                    else
                        {{ ceil_div_quantity('greatest(u.units - c.free_units, 0)', 'c.package_size') }}
                end * c.package_price
            -- no amount at all bills nothing, not a fixed fee per event
            when 'percentage' then
                case when u.units = 0 then 0 else u.units * c.rate + u.billable_events * c.fixed_fee end
        end as raw_amount
    from {{ usage }} as u
    inner join {{ charges }} as c
        on u.plan_id = c.plan_id
        and u.plan_version = c.plan_version
        and u.charge_id = c.charge_id
        and u.price_index = c.price_index
    left join graduated as g on {% for k in key %}u.{{ k }} = g.{{ k }}{{ " and " if not loop.last }}{% endfor %}
    left join volume as v on {% for k in key %}u.{{ k }} = v.{{ k }}{{ " and " if not loop.last }}{% endfor %}
{%- endmacro %}


{#- The price of `units` inside tier `t` (a relation alias), before its flat fee: per unit, in
    whole packages (a part package counts whole), or at the tier's rate. #}
{% macro tier_price(t, units) -%}
    case
        when {{ t }}.package_size is not null then
            {{ tally.ceil_div_quantity(units, t ~ '.package_size') }} * {{ t }}.package_price
        when {{ t }}.rate is not null then {{ units }} * {{ t }}.rate
        else {{ units }} * {{ t }}.unit_price
    end
{%- endmacro %}


{#- The commitment lines of `relation` (segment_id, `charge_column`, segment_days, amount,
    projected_amount, minimum, maximum; null minimum or maximum: none): a `minimum_true_up`
    of what the amount falls short of the minimum, a `spend_cap` of minus what it passes the
    maximum, for the invoice and for the projection alike. A row is kept when either has one.
    Columns: segment_id, line_type, charge_id, quantity (the segment's days), amount,
    projected_amount. #}
{% macro commitment_lines(relation, charge_column) -%}
    select * from (
        select
            segment_id,
            'minimum_true_up' as line_type,
            {{ charge_column }} as charge_id,
            cast(segment_days as {{ tally.quantity_type() }}) as quantity,
            cast(greatest(minimum - amount, 0) as {{ tally.money_type() }}) as amount,
            cast(greatest(minimum - projected_amount, 0) as {{ tally.money_type() }}) as projected_amount
        from {{ relation }}
        where minimum is not null
        union all
        select
            segment_id,
            'spend_cap' as line_type,
            {{ charge_column }} as charge_id,
            cast(segment_days as {{ tally.quantity_type() }}) as quantity,
            cast(-greatest(amount - maximum, 0) as {{ tally.money_type() }}) as amount,
            cast(-greatest(projected_amount - maximum, 0) as {{ tally.money_type() }}) as projected_amount
        from {{ relation }}
        where maximum is not null
    ) as lines
    where amount <> 0 or projected_amount <> 0
{%- endmacro %}


{#- A grouped charge's group key for an event signature: the JSON object of its group_by
    values (`c` holds the charge's group_by_1..3, sorted), a missing property null, e.g.
    {"model":"large"} or {"model":null}; null for a charge without group_by. The same text
    transforms.rating.group_key gives. #}
{% macro group_key(properties, c) -%}
    {%- set members = [] -%}
    {%- for i in [1, 2, 3] -%}
        {%- set k = c ~ '.group_by_' ~ i -%}
        {%- do members.append(
            'case when ' ~ k ~ ' is not null then ' ~ tally.json_string(k) ~ " || ':' || coalesce("
            ~ tally.json_string(tally.json_get(properties, k)) ~ ", 'null') end"
        ) -%}
    {%- endfor -%}
    case when {{ c }}.group_by_1 is not null then
        '{' || {{ members[0] }}
            || coalesce(',' || {{ members[1] }}, '')
            || coalesce(',' || {{ members[2] }}, '')
            || '}'
    end
{%- endmacro %}


{#- Rows of `alias` (customer_id, usage_date, metric, status_key, properties_key) joined to the
    segment their day falls in (`segments as s`) and to the charge of that segment's plan that
    bills their signature (`matched as m`, int_charge_signatures_matched). #}
{% macro join_segment_charge(alias) -%}
    inner join segments as s
        on {{ alias }}.customer_id = s.customer_id
        and {{ alias }}.usage_date >= s.segment_start
        and {{ alias }}.usage_date < s.segment_end
    inner join matched as m
        on s.plan_id = m.plan_id
        and s.plan_version = m.plan_version
        and {{ alias }}.metric = m.metric
        and {{ alias }}.status_key = m.status_key
        and {{ alias }}.properties_key = m.properties_key
{%- endmacro %}
