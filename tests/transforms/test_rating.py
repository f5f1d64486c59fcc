"""Worked examples of SPEC 3, computed by hand (issue #3 extends this to a full table)."""

from decimal import Decimal as D

import pytest

from transforms.money import round_money
from transforms.pricebook import Tier
from transforms.rating import graduated, package, per_unit, volume

TIERS = (Tier(D(100), D("1.00"), D("10")), Tier(D(200), D("0.50"), D("5")), Tier(None, D("0.10")))


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D("10")),  # first tier's flat fee even at zero usage
        (D(100), D("110")),  # exactly at up_to: still tier 1
        (D(101), D("115.50")),  # one past: tier 2 reached, its flat fee added
        (D(250), D("170")),  # 100*1 + 10 + 100*0.5 + 5 + 50*0.1
    ],
)
def test_graduated(units, expected):
    assert graduated(units, TIERS) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [(D(0), D("10")), (D(100), D("110")), (D(101), D("55.50")), (D(250), D("25"))],
)
def test_volume_prices_every_unit_at_the_tier_of_the_total(units, expected):
    assert volume(units, TIERS) == expected


def test_per_unit_and_package_with_free_units():
    assert per_unit(D(1500), D("0.0015"), D(1000)) == D("0.75")
    assert per_unit(D(10), D("0.0015"), D(1000)) == D(0)
    assert package(D(1500), D(1000), D("1.20"), D(500)) == D("1.20")  # 1000 billable: one package
    assert package(D(1501), D(1000), D("1.20"), D(500)) == D("2.40")  # 1001 billable: round up


def test_rounding_is_half_up_to_the_currency_minor_units():
    assert round_money(D("0.125"), "USD") == D("0.13")
    assert round_money(D("12.5"), "JPY") == D("13")
    assert round_money(D("1.0005"), "BHD") == D("1.001")
