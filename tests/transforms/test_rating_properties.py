"""Properties of the pricing models that must hold for every price book and quantity."""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from transforms.money import minor_units, round_money
from transforms.pricebook import Tier
from transforms.rating import graduated, package, per_unit, volume

quantities = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False)
prices = st.decimals(min_value=0, max_value=100, places=6, allow_nan=False)
fees = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False)


@st.composite
def tier_lists(draw):
    bounds = sorted(
        draw(st.sets(st.integers(min_value=1, max_value=10**7), min_size=0, max_size=4))
    )
    ups = [D(b) for b in bounds] + [None]
    return tuple(Tier(up, draw(prices), draw(fees)) for up in ups)


@st.composite
def tiers_and_units(draw):
    """Tiers and a quantity that is often exactly on a tier boundary, or just past one."""
    tiers = draw(tier_lists())
    bounds = [t.up_to for t in tiers if t.up_to is not None]
    if bounds and draw(st.booleans()):
        return tiers, draw(st.sampled_from(bounds)) + draw(st.sampled_from([D(0), D("0.001")]))
    return tiers, draw(quantities)


@given(tier_lists(), quantities, quantities)
def test_graduated_is_monotone_in_quantity(tiers, a, b):
    low, high = sorted((a, b))
    assert graduated(low, tiers) <= graduated(high, tiers)


@given(tiers_and_units())
def test_volume_prices_all_units_at_the_one_tier_that_holds_the_total(case):
    tiers, units = case
    # The tier holding the total: the first whose up_to is >= units (0 is in the first).
    tier = next(t for t in tiers if t.up_to is None or units <= t.up_to)
    assert volume(units, tiers) == per_unit(units, tier.unit_price) + tier.flat_fee
    # ... which is graduated pricing with that tier alone.
    assert volume(units, tiers) == graduated(units, (Tier(None, tier.unit_price, tier.flat_fee),))


@given(tiers_and_units())
def test_graduated_equals_the_sum_of_the_tiers_it_reaches(case):
    tiers, units = case
    total, lower = D(0), D(0)
    for i, t in enumerate(tiers):
        if i == 0 or units > lower:
            top = units if t.up_to is None else min(units, t.up_to)
            total += (top - lower) * t.unit_price + t.flat_fee
        if t.up_to is not None:
            lower = t.up_to
    assert graduated(units, tiers) == total


sizes = st.integers(min_value=1, max_value=10_000).map(D)
free = st.integers(min_value=0, max_value=10_000).map(D)


@given(quantities, sizes, prices, free)
def test_package_is_a_step_function(units, size, price, free_units):
    amount = package(units, size, price, free_units)
    # A whole number of packages ...
    packages = (max(units - free_units, D(0)) / size).to_integral_value(rounding="ROUND_CEILING")
    assert amount == packages * price
    # ... constant up to the end of the package that holds `units` ...
    step_end = free_units + packages * size
    assert package(step_end, size, price, free_units) == amount
    # ... and exactly one more package just past it.
    assert package(step_end + D("0.001"), size, price, free_units) == amount + price


currencies = st.sampled_from(["USD", "EUR", "JPY", "BHD", "CLF", "KWD", "GBP"])
amounts = st.decimals(min_value=0, max_value=10**12, places=8, allow_nan=False)


@given(amounts, currencies)
def test_rounding_never_drifts_more_than_half_a_minor_unit_per_line(amount, currency):
    half = D(1).scaleb(-minor_units(currency)) / 2
    rounded = round_money(amount, currency)
    assert abs(rounded - amount) <= half
    assert rounded == round_money(rounded, currency)  # rounding is idempotent


@given(st.lists(amounts, min_size=1, max_size=20), currencies)
def test_a_subtotal_of_rounded_lines_stays_within_half_a_minor_unit_per_line(lines, currency):
    half = D(1).scaleb(-minor_units(currency)) / 2
    subtotal = sum((round_money(x, currency) for x in lines), D(0))
    assert abs(subtotal - sum(lines, D(0))) <= half * len(lines)
