{#-
  Money is DECIMAL end to end. DuckDB turns DECIMAL / DECIMAL into DOUBLE, so nothing here
  divides decimals: rounding and proration are done on whole numbers of minor units.
-#}

{% macro money_type() -%}decimal(38, 4){%- endmacro %}
{% macro quantity_type() -%}decimal(38, 9){%- endmacro %}

{# One minor unit of a currency with `minor_units` digits, as an exact decimal. #}
{% macro minor_unit(minor_units) -%}
    case {{ minor_units }}
        when 0 then cast(1 as decimal(38, 4))
        when 1 then cast(0.1 as decimal(38, 4))
        when 2 then cast(0.01 as decimal(38, 4))
        when 3 then cast(0.001 as decimal(38, 4))
        else cast(0.0001 as decimal(38, 4))
    end
{%- endmacro %}

{#
  Round half-up (away from zero) to the currency's minor units. Each branch is cast on its
  own: DuckDB unifies CASE branches of DECIMAL(38,0) and DECIMAL(38,2) to DECIMAL(38,0).
#}
{% macro round_money(amount, minor_units) -%}
    case {{ minor_units }}
        when 0 then cast(round({{ amount }}, 0) as {{ money_type() }})
        when 1 then cast(round({{ amount }}, 1) as {{ money_type() }})
        when 2 then cast(round({{ amount }}, 2) as {{ money_type() }})
        when 3 then cast(round({{ amount }}, 3) as {{ money_type() }})
        else cast(round({{ amount }}, 4) as {{ money_type() }})
    end
{%- endmacro %}

{#
  amount * numerator / denominator, rounded half-up to minor units, exactly: the amount
  (scale <= 12) is scaled to a whole number, divided as integers with half-up rounding.
  Requires amount >= 0, numerator >= 0, denominator > 0.
#}
{% macro prorate_money(amount, numerator, denominator, minor_units) -%}
    (
        cast(
            {{ tally.int_div(
                '2 * cast(cast(' ~ amount ~ ' as decimal(38, 12)) * 1000000000000 as ' ~ tally.whole_type() ~ ') * (' ~ numerator ~ ') * cast(power(10, ' ~ minor_units ~ ') as ' ~ tally.whole_type() ~ ')'
                ~ ' + cast(1000000000000 as ' ~ tally.whole_type() ~ ') * (' ~ denominator ~ ')',
                '2 * cast(1000000000000 as ' ~ tally.whole_type() ~ ') * (' ~ denominator ~ ')'
            ) }} as decimal(38, 0)
        ) * {{ tally.minor_unit(minor_units) }}
    )
{%- endmacro %}

{# ceil(a / b) for non-negative quantities with at most 9 decimals, in exact integer math. #}
{% macro ceil_div_quantity(a, b) -%}
    {{ tally.int_div(
        'cast(cast(' ~ a ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ') + cast(cast(' ~ b ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ') - 1',
        'cast(cast(' ~ b ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ')'
    ) }}
{%- endmacro %}

{# floor(a / b) for non-negative quantities with at most 9 decimals, in exact integer math. #}
{% macro floor_div_quantity(a, b) -%}
    {{ tally.int_div(
        'cast(cast(' ~ a ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ')',
        'cast(cast(' ~ b ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ')'
    ) }}
{%- endmacro %}

{# q * numerator / denominator as a quantity (9 decimals, half-up), in exact integer math.
   Requires q >= 0, numerator >= 0, denominator > 0. #}
{% macro scale_quantity(q, numerator, denominator) -%}
    (
        cast(
            {{ tally.int_div(
                '2 * cast(cast(' ~ q ~ ' as decimal(38, 9)) * 1000000000 as ' ~ tally.whole_type() ~ ') * (' ~ numerator ~ ') + (' ~ denominator ~ ')',
                '2 * (' ~ denominator ~ ')'
            ) }} as decimal(38, 0)
        ) * cast(0.000000001 as decimal(38, 9))
    )
{%- endmacro %}

{#- Credits and money at a plan's credit_rate, exactly, in whole numbers (credits have at most
    9 decimals, a rate 12, money 4); the products fit 38 digits for balances up to a billion
    credits. transforms/credits.py is the reference. -#}
{% macro _credits_as_whole(credits) -%}
    cast(cast({{ credits }} as decimal(38, 9)) * 1000000000 as {{ tally.whole_type() }})
{%- endmacro %}
{% macro _rate_as_whole(rate) -%}
    cast(cast({{ rate }} as decimal(38, 12)) * 1000000000000 as {{ tally.whole_type() }})
{%- endmacro %}

{#- The money value of `credits` at `rate`, half-up to minor units; `up`: rounded up instead
    (the least money that is worth at least the credits). -#}
{% macro credits_money(credits, rate, minor_units, up=false) -%}
    {%- set product = '(' ~ tally._credits_as_whole(credits) ~ ') * (' ~ tally._rate_as_whole(rate) ~ ') * cast(power(10, ' ~ minor_units ~ ') as ' ~ tally.whole_type() ~ ')' %}
    {%- set scale = 'cast(1000000000000 as ' ~ tally.whole_type() ~ ') * 1000000000' %}
    (
        cast(
            {%- if up %}
            {{ tally.int_div(product ~ ' + ' ~ scale ~ ' - 1', scale) }}
            {%- else %}
            {{ tally.int_div('2 * ' ~ product ~ ' + ' ~ scale, '2 * ' ~ scale) }}
            {%- endif %} as decimal(38, 0)
        ) * {{ tally.minor_unit(minor_units) }}
    )
{%- endmacro %}

{#- The credits `money` is worth at `rate`: money / rate to 9 decimals, half-up. -#}
{% macro money_credits(money, rate) -%}
    {%- set whole_money = 'cast(cast(' ~ money ~ ' as decimal(38, 4)) * 10000 as ' ~ tally.whole_type() ~ ')' %}
    {%- set whole_rate = tally._rate_as_whole(rate) %}
    (
        cast(
            {{ tally.int_div(
                '2 * ' ~ whole_money ~ ' * cast(100000000000000000 as ' ~ tally.whole_type() ~ ') + ' ~ whole_rate,
                '2 * ' ~ whole_rate
            ) }} as decimal(38, 0)
        ) * cast(0.000000001 as decimal(38, 9))
    )
{%- endmacro %}
