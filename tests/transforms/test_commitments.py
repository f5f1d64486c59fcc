"""Charge minimums and spend caps, and the plan's spend cap: worked examples (OpenMeter, Lago
and the pricing spec), each figure computed by hand beside it."""

import datetime as dt
from decimal import Decimal as D

import pytest

from transforms.pricebook import Charge, Plan, Tier
from transforms.rating import Segment, segment_lines

OCTOBER = (dt.date(2026, 10, 1), dt.date(2026, 11, 1))  # 31 days
# Volume tiers with flat fees only: 100 up to 5 units, 150 above.
FLAT_VOLUME = (Tier(D(5), D(0), D(100)), Tier(None, D(0), D(150)))
FLAT_GRADUATED = (Tier(D(5), D(0), D(100)), Tier(None, D(0), D(50)))


def _plan(*charges: Charge, **kw) -> Plan:
    return Plan(
        plan_id="p",
        version=1,
        effective_from=dt.date(2026, 1, 1),
        currency="USD",
        base_fee=kw.pop("base_fee", D(0)),
        minimum_commitment=kw.pop("minimum_commitment", None),
        credit_rate=None,
        charges=charges,
        source_file="plans.yaml",
        **kw,
    )


def _lines(plan: Plan, usage: dict, start=OCTOBER[0], end=OCTOBER[1]) -> list[tuple]:
    lines = segment_lines(Segment("cus", plan, start, end), usage)
    return [(ln.line_type, ln.charge_id, ln.amount) for ln in lines]


def _volume(**kw) -> Charge:
    return Charge("calls", "api_calls", "count", "volume", tiers=FLAT_VOLUME, **kw)


def test_a_charge_above_its_maximum_is_capped_by_a_negative_line():
    # 7 units reach the second tier: 150.00; the cap of 125.00 takes 25.00 off.
    assert _lines(_plan(_volume(maximum=D(125))), {"calls": (D(7), 7)}) == [
        ("usage", "calls", D("150.00")),
        ("spend_cap", "calls", D("-25.00")),
    ]


def test_a_charge_below_its_minimum_is_trued_up_even_at_zero_usage():
    # 0 units: the first tier's flat fee 100.00; the minimum 150 adds 50.00.
    assert _lines(_plan(_volume(minimum=D(150))), {}) == [
        ("usage", "calls", D("100.00")),
        ("minimum_true_up", "calls", D("50.00")),
    ]
    # Graduated, minimum 1,000, no usage: 100.00 + 900.00.
    graduated = Charge("calls", "api_calls", "count", "graduated", tiers=FLAT_GRADUATED)
    charge = Charge(**{**graduated.__dict__, "minimum": D(1000)})
    assert _lines(_plan(charge), {}) == [
        ("usage", "calls", D("100.00")),
        ("minimum_true_up", "calls", D("900.00")),
    ]


def test_a_charge_minimum_is_prorated_by_the_days_of_the_segment():
    # Lago: minimum 10.00 for 15 of 31 days: 4.8387... -> 4.84; usage 2.00: true-up 2.84.
    charge = Charge("calls", "api_calls", "sum", "per_unit", unit_price=D("0.01"), minimum=D(10))
    lines = _lines(_plan(charge), {"calls": (D(200), 200)}, dt.date(2026, 10, 17))
    assert lines == [("usage", "calls", D("2.00")), ("minimum_true_up", "calls", D("2.84"))]


def test_the_plan_cap_measures_usage_and_the_charge_lines_not_the_base_fee():
    calls = Charge("calls", "api_calls", "sum", "per_unit", unit_price=D(1), maximum=D(200))
    tokens = Charge("tokens", "tokens", "sum", "per_unit", unit_price=D(1))
    plan = _plan(calls, tokens, base_fee=D(49), maximum_commitment=D(250))
    # calls 300 capped at 200 (-100), tokens 80: V = 280 > 250: the plan's cap takes 30.00.
    assert _lines(plan, {"calls": (D(300), 300), "tokens": (D(80), 80)}) == [
        ("usage", "calls", D("300.00")),
        ("spend_cap", "calls", D("-100.00")),
        ("usage", "tokens", D("80.00")),
        ("base_fee", None, D("49.00")),
        ("spend_cap", None, D("-30.00")),
    ]
    # Under the cap: no line (270.00 of usage under 500.00 in the spec's worked invoice).
    under = _plan(tokens, maximum_commitment=D(500))
    assert _lines(under, {"tokens": (D(270), 270)}) == [("usage", "tokens", D("270.00"))]


def test_the_plan_minimum_counts_the_charge_caps():
    calls = Charge("calls", "api_calls", "sum", "per_unit", unit_price=D(1), maximum=D(200))
    plan = _plan(calls, minimum_commitment=D(250))
    # 300 capped at 200: V = 200 < 250: the plan's true-up is 50.00.
    assert _lines(plan, {"calls": (D(300), 300)}) == [
        ("usage", "calls", D("300.00")),
        ("spend_cap", "calls", D("-100.00")),
        ("minimum_true_up", None, D("50.00")),
    ]


@pytest.mark.parametrize(
    ("minimum", "maximum", "usage", "expected"),
    [
        (D(10), D(20), D(15), []),  # between: no commitment line
        (D(10), D(20), D(10), []),  # exactly the minimum
        (D(10), D(20), D(20), []),  # exactly the maximum
        (D(10), D(10), D(3), [("minimum_true_up", "calls", D("7.00"))]),
    ],
)
def test_commitment_boundaries(minimum, maximum, usage, expected):
    charge = Charge(
        "calls",
        "api_calls",
        "sum",
        "per_unit",
        unit_price=D(1),
        minimum=minimum,
        maximum=maximum,
    )
    lines = _lines(_plan(charge), {"calls": (usage, 1)})
    assert lines[1:] == expected
