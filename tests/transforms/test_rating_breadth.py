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


OCTOBER = (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))


def _change(eid: str, at: dt.datetime, quantity: str) -> Event:
    return Event(eid, at, "storage_gb", D(quantity))


def _oct(day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("changes", "segment_end", "units"),
    [
        # 10 GB from the 1st, +20 on the 16th, -30 on the 26th: (10 x 15 + 30 x 10 + 0 x 6) / 31
        (
            (("a", _oct(1), "10"), ("b", _oct(16), "20"), ("c", _oct(26), "-30")),
            None,
            D("14.516129032"),
        ),
        # two +3 at the same instant: a level of 6 all month
        ((("a", _oct(1), "3"), ("b", _oct(1), "3")), None, D(6)),
        # 2 units for 12 hours of 744: 24 / 744 = 0.0322580645...
        ((("a", _oct(1), "2"), ("b", _oct(1, 12), "-2")), None, D("0.032258065")),
        # a level below zero prices as 0
        ((("a", _oct(3), "-5"),), None, D(0)),
        # a segment that ends on the 20th: 10 from the 10th holds 10 of the month's 31 days
        ((("a", _oct(10), "10"),), _oct(20), D("3.225806452")),
    ],
)
def test_weighted_sum_integrates_the_level_over_the_billing_period(changes, segment_end, units):
    charge = Charge("storage", "storage_gb", "weighted_sum", "per_unit", unit_price=D("0.10"))
    events = [_change(*c) for c in changes]
    end = segment_end or OCTOBER[1]
    assert aggregate(charge, events, segment_end=end, period=OCTOBER)[0] == units


def test_weighted_sum_from_groups_equals_the_event_by_event_level():
    """The reference that simulate uses (sums per day and event group) against the walk of the
    level above, with changes inside days and two at one instant."""
    import polars as pl

    from transforms.rating import aggregate_groups, usage_groups

    rows = [
        ("a", _oct(1), "10"),
        ("b", _oct(16, 6, 30), "20"),
        ("c", _oct(26, 23, 59), "-30"),
        ("d", _oct(26, 23, 59), "4"),
    ]
    charge = Charge("storage", "storage_gb", "weighted_sum", "per_unit", unit_price=D("0.10"))
    events = pl.LazyFrame(
        {
            "event_id": [r[0] for r in rows],
            "customer_id": ["c"] * len(rows),
            "occurred_at": [r[1] for r in rows],
            "metric": ["storage_gb"] * len(rows),
            "status": [None] * len(rows),
            "properties": [None] * len(rows),
            "quantity": [D(r[2]) for r in rows],
        },
        schema_overrides={
            "quantity": pl.Decimal(38, 9),
            "status": pl.Int32,
            "properties": pl.String,
        },
    )
    expected = aggregate(
        charge, [_change(*r) for r in rows], segment_end=OCTOBER[1], period=OCTOBER
    )[0]
    got, _ = aggregate_groups(
        charge,
        usage_groups(events),
        segment_end=OCTOBER[1].date(),
        period=(OCTOBER[0].date(), OCTOBER[1].date()),
    )
    assert got == expected


def test_latest_on_a_signed_metric_is_floored_at_zero():
    """Lago: a last value of -5 bills 0 (only a signed metric has negative quantities)."""
    charge = Charge("level", "storage_gb", "latest", "per_unit", unit_price=D(1))
    events = [_change("a", _oct(1), "3"), _change("b", _oct(2), "-5")]
    assert aggregate(charge, events)[0] == D(0)
    assert aggregate(charge, events[:1])[0] == D(3)
