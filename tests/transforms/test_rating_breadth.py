"""Worked examples of the pricing breadth (part A) models, each figure computed by hand: tiers
at a rate (graduated_percentage), tiers priced in packages, packages rounded down, and the
avg and min aggregations. The arithmetic is written next to each expected value."""

import datetime as dt
from decimal import Decimal as D

import pytest
from oracles import Event, aggregate

from transforms.pricebook import Charge, Tier
from transforms.rating import charge_amount, graduated, package, volume

# Lago's graduated percentage: 1 % up to 10 + 200 flat, 2 % up to 20 + 300, 3 % above + 400.
PERCENT_TIERS = (
    Tier(D(10), rate=D("0.01"), flat_fee=D(200)),
    Tier(D(20), rate=D("0.02"), flat_fee=D(300)),
    Tier(None, rate=D("0.03"), flat_fee=D(400)),
)
# Lago's pay-in-advance example, in arrears: tiers at 1,000 and 10,000.
LAGO_TIERS = (
    Tier(D(1000), rate=D("0.01"), flat_fee=D(200)),
    Tier(D(10000), rate=D("0.02"), flat_fee=D(300)),
    Tier(None, rate=D("0.03"), flat_fee=D(400)),
)
# Kill Bill's blocks: 100 a package up to 1,000, 1,000 a package up to 101,000, then 0.50.
BLOCKS = (
    Tier(D(1000), package_size=D(100), package_price=D(1)),
    Tier(D(101000), package_size=D(1000), package_price=D(1)),
    Tier(None, package_size=D(1000), package_price=D("0.50")),
)


@pytest.mark.parametrize(
    ("units", "tiers", "expected"),
    [
        # 10 * 0.01 + 10 * 0.02 + 1 * 0.03 + 200 + 300 + 400 = 0.10 + 0.20 + 0.03 + 900
        (D(21), PERCENT_TIERS, D("900.33")),
        (D(0), PERCENT_TIERS, D(200)),  # the first tier's flat fee even at zero
        (D(10), PERCENT_TIERS, D("200.10")),  # exactly at up_to: tier 2 not reached
        # Lago, period totals after each transaction (500, 550, 4,000):
        (D(500), LAGO_TIERS, D(205)),  # 500 * 0.01 + 200
        (D(1050), LAGO_TIERS, D(511)),  # 10 + 200 + 50 * 0.02 + 300
        (D(5050), LAGO_TIERS, D(591)),  # 10 + 200 + 4,050 * 0.02 + 300
    ],
)
def test_graduated_percentage_takes_each_tiers_rate_of_the_amount_inside_it(units, tiers, expected):
    charge = Charge("fees", "payout_amount", "sum", "graduated_percentage", tiers=tiers)
    assert charge_amount(charge, units, 1) == expected


def test_a_zero_first_tier_at_rate_zero_bills_nothing_at_zero():
    tiers = (Tier(D("0.01"), rate=D(0)), Tier(None, rate=D("0.05")))
    assert graduated(D(0), tiers) == D(0)


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D(0)),  # no package in a tier with nothing inside it
        (D(1000), D(10)),  # 10 packages of 100
        (D(1001), D(11)),  # 10 + ceil(1 / 1,000) = 1 in tier 2
        (D(5325), D(15)),  # 10 + ceil(4,325 / 1,000) = 5 (Kill Bill)
        (D(101001), D("110.50")),  # 10 + 100 + ceil(1 / 1,000) * 0.50
    ],
)
def test_graduated_tiers_priced_in_packages_round_up_inside_each_tier(units, expected):
    assert graduated(units, BLOCKS) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(1000), D(10)),  # tier 1: 10 packages of 100
        (D(101000), D(101)),  # tier 2: 101 packages of 1,000
        (D(101001), D(51)),  # the last tier: 102 packages * 0.50
        (D(300000), D(150)),  # 300 * 0.50 (beyond the last bound: the last tier)
    ],
)
def test_volume_tiers_priced_in_packages_price_every_unit_in_the_reached_tiers_packages(
    units, expected
):
    assert volume(units, BLOCKS) == expected


@pytest.mark.parametrize(
    ("units", "rounding", "expected"),
    [
        (D(50), "down", D(0)),  # half a package: not billed
        (D(250), "down", D(4)),  # 2 whole packages * 2.00
        (D(250), "up", D(6)),  # 3 packages, the part one whole
        (D(300), "down", D(6)),  # exactly 3
        (D(0), "down", D(0)),
    ],
)
def test_packages_rounded_down_bill_whole_packages_only(units, rounding, expected):
    assert package(units, D(100), D("2.00"), rounding=rounding) == expected


def _ev(eid: str, quantity: str) -> Event:
    return Event(eid, dt.datetime(2026, 10, 2, tzinfo=dt.UTC), "gpus_in_use", D(quantity))


@pytest.mark.parametrize(
    ("aggregation", "quantities", "units"),
    [
        ("avg", ("4", "6", "11"), D(7)),  # 21 / 3
        ("min", ("4", "6", "11"), D(4)),
        ("avg", ("1", "1", "2"), D("1.333333333")),  # 4 / 3, 9 decimals
        ("avg", ("1", "2", "2"), D("1.666666667")),  # 5 / 3, half-up
        ("min", ("0.5", "0.25"), D("0.25")),
        ("avg", (), D(0)),  # no billable event: 0
    ],
)
def test_avg_and_min_are_levels_of_the_billable_events(aggregation, quantities, units):
    charge = Charge("g", "gpus_in_use", aggregation, "per_unit", unit_price=D("30.00"))
    events = [_ev(f"e{i}", q) for i, q in enumerate(quantities)]
    assert aggregate(charge, events)[0] == units
