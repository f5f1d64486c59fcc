"""Worked examples of the pricing models, one per table, each figure computed by hand.

Boundaries on every model: zero, exactly at a boundary (`up_to` or free units), one past it,
fractional and huge quantities. The arithmetic is written next to each expected value.
"""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from oracles import Event, aggregate, matches

from transforms.money import round_money
from transforms.pricebook import Charge, Plan, PriceBook, Tier
from transforms.rating import (
    Segment,
    charge_amount,
    graduated,
    package,
    per_unit,
    percentage,
    plan_for_period,
    prorate,
    segment_lines,
    volume,
)

# tier 1: [0, 100] at 1.00 + flat 10; tier 2: (100, 200] at 0.50 + flat 5; tier 3: above 200
TIERS = (Tier(D(100), D("1.00"), D("10")), Tier(D(200), D("0.50"), D("5")), Tier(None, D("0.10")))
HUGE = D(10) ** 15


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D(0)),
        (D(999), D(0)),  # inside the free allowance
        (D(1000), D(0)),  # exactly the free allowance
        (D(1001), D("0.002")),  # one past: 1 * 0.002
        (D("1000.5"), D("0.001")),  # fractional: 0.5 * 0.002
        (HUGE, D("1999999999998.000")),  # (10^15 - 1000) * 0.002
    ],
)
def test_per_unit(units, expected):
    assert per_unit(units, D("0.002"), D(1000)) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D("10")),  # tier 1's flat fee is billed even at zero usage
        (D("0.5"), D("10.50")),  # 0.5 * 1.00 + 10
        (D(100), D("110")),  # exactly at up_to: all of it in tier 1: 100 + 10
        (D("100.5"), D("115.25")),  # 110 + 0.5 * 0.50 + 5 (tier 2 reached)
        (D(101), D("115.50")),  # one past: 110 + 1 * 0.50 + 5
        (D(200), D("165")),  # 110 + 100 * 0.50 + 5
        (D(201), D("165.10")),  # 165 + 1 * 0.10
        (D(10) ** 12, D("100000000145.00")),  # 165 + (10^12 - 200) * 0.10
    ],
)
def test_graduated(units, expected):
    assert graduated(units, TIERS) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D("10")),  # 0 falls in tier 1: 0 * 1.00 + 10
        (D("0.5"), D("10.50")),  # 0.5 * 1.00 + 10
        (D(100), D("110")),  # exactly at up_to: tier 1: 100 * 1.00 + 10
        (D("100.5"), D("55.25")),  # tier 2: 100.5 * 0.50 + 5
        (D(101), D("55.50")),  # one past: every unit drops to tier 2: 101 * 0.50 + 5
        (D(200), D("105")),  # 200 * 0.50 + 5
        (D(201), D("20.10")),  # 201 * 0.10: the total drops across a boundary
        (D(10) ** 12, D("100000000000.00")),  # 10^12 * 0.10
    ],
)
def test_volume(units, expected):
    assert volume(units, TIERS) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (D(0), D(0)),
        (D(500), D(0)),  # exactly the free units
        (D("500.001"), D("1.20")),  # a fraction past: one whole package
        (D(501), D("1.20")),
        (D(1500), D("1.20")),  # 1000 billable: exactly one package
        (D(1501), D("2.40")),  # 1001 billable: rounds up to two
        (HUGE + 500, D("1200000000000.00")),  # 10^12 packages * 1.20
    ],
)
def test_package(units, expected):
    assert package(units, D(1000), D("1.20"), D(500)) == expected


@pytest.mark.parametrize(
    ("units", "events", "expected"),
    [
        (D(0), 0, D(0)),
        (D("100.00"), 1, D("3.20")),  # 100 * 0.029 + 0.30
        (D("33.33"), 2, D("1.56657")),  # 0.96657 + 0.60, unrounded
        (D(10) ** 9, 10**6, D("29300000.00")),  # 29,000,000 + 300,000
    ],
)
def test_percentage(units, events, expected):
    assert percentage(units, events, D("0.029"), D("0.30")) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("0.125"), "USD", D("0.13")),  # half-up, not half-even
        (D("0.124999"), "USD", D("0.12")),
        (D("2.675"), "USD", D("2.68")),  # a float would make this 2.67
        (D("1.56657"), "USD", D("1.57")),
        (D("12.5"), "JPY", D("13")),  # no minor units
        (D("1.0005"), "BHD", D("1.001")),  # three minor units
        (D("0.005"), "EUR", D("0.01")),
    ],
)
def test_rounding_is_half_up_to_the_currency_minor_units(amount, currency, expected):
    assert round_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "days", "period_days", "expected"),
    [
        (D("49.00"), 30, 30, D("49.00")),
        (D("49.00"), 15, 30, D("24.50")),
        (D("49.00"), 17, 31, D("26.87")),  # 26.870967...
        (D("100"), 1, 31, D("3.23")),  # 3.2258...
        (D("30.00"), 20, 30, D("20.00")),
        (D("49.00"), 14, 28, D("24.50")),  # February
    ],
)
def test_proration_by_days_subscribed(amount, days, period_days, expected):
    assert prorate(amount, days, period_days, "USD") == expected


def _charge(model="per_unit", aggregation="sum", **kw):
    kw.setdefault("unit_price", D("0.01"))
    return Charge(charge_id="c", metric="api_calls", aggregation=aggregation, model=model, **kw)


def _ev(eid, day, quantity="1", status=200, metric="api_calls", hour=0, **props):
    at = dt.datetime(2026, 9, day, hour, tzinfo=dt.UTC)
    return Event(eid, at, metric, D(quantity), status, props)


EVENTS = (
    _ev("e1", 1, "1.5", 200, user="a", model="large"),
    _ev("e2", 2, "2", 204, user="b", model="small"),
    _ev("e3", 3, "0.25", 500, user="a"),
    _ev("e4", 3, "7", None),  # no status, no properties
    _ev("e5", 4, "100", 200, metric="tokens"),  # another metric: never counted here
)


@pytest.mark.parametrize(
    ("charge", "units", "events"),
    [
        (_charge(aggregation="sum"), D("10.75"), 4),  # 1.5 + 2 + 0.25 + 7
        (_charge(aggregation="count"), D(4), 4),
        (_charge(aggregation="max"), D(7), 4),
        (_charge(aggregation="unique_count", unique_property="user"), D(2), 4),  # a, b
        (_charge(aggregation="latest"), D(7), 4),  # e3 and e4 tie on time: e4 wins by id
        (_charge(status_ranges=((200, 299),)), D("3.5"), 2),  # success: e1, e2
        (_charge(status_ranges=((500, 500), (204, 204))), D("2.25"), 2),  # listed codes
        (_charge(property_filters=(("model", ("large",)),)), D("1.5"), 1),
        (_charge(property_filters=(("model", ("large", "small")),)), D("3.5"), 2),
        (
            _charge(status_ranges=((200, 299),), property_filters=(("user", ("a",)),)),
            D("1.5"),
            1,
        ),
        (_charge(status_ranges=((300, 399),)), D(0), 0),  # nothing billable: zero units
    ],
)
def test_aggregations_and_filters(charge, units, events):
    assert aggregate(charge, EVENTS) == (units, events)


def test_an_event_without_the_filtered_property_does_not_match():
    charge = _charge(property_filters=(("model", ("large",)),))
    assert not matches(charge, _ev("x", 1))
    assert matches(charge, _ev("y", 1, model="large"))


def _plan(plan_id="p", version=1, effective=dt.date(2026, 1, 1), **kw):
    kw.setdefault("charges", (_charge(aggregation="count"),))
    return Plan(
        plan_id=plan_id,
        version=version,
        effective_from=effective,
        currency=kw.pop("currency", "USD"),
        base_fee=kw.pop("base_fee", D(0)),
        minimum_commitment=kw.pop("minimum_commitment", None),
        credit_rate=None,
        source_file="plans.yaml",
        **kw,
    )


def test_the_highest_version_effective_at_the_period_start_applies():
    book = PriceBook(
        plans=(
            _plan(version=1, effective=dt.date(2026, 1, 1)),
            _plan(version=2, effective=dt.date(2026, 9, 1)),
            _plan(version=3, effective=dt.date(2026, 9, 15)),
        )
    )
    assert plan_for_period(book, "p", dt.date(2026, 8, 1)).version == 1
    assert plan_for_period(book, "p", dt.date(2026, 9, 1)).version == 2  # v3 starts mid-period
    assert plan_for_period(book, "p", dt.date(2026, 10, 1)).version == 3
    assert plan_for_period(book, "p", dt.date(2025, 12, 1)) is None


@pytest.mark.parametrize(
    ("calls", "expected_lines"),
    [
        # minimum 100 prorated 15/30 = 50.00; usage 10 calls * 0.01 = 0.10; base 24.50
        (10, {"usage": D("0.10"), "base_fee": D("24.50"), "minimum_true_up": D("49.90")}),
        # usage 6000 * 0.01 = 60.00 is above the prorated minimum: no true-up line
        (6000, {"usage": D("60.00"), "base_fee": D("24.50")}),
        # exactly the minimum: no true-up line either
        (5000, {"usage": D("50.00"), "base_fee": D("24.50")}),
    ],
)
def test_segment_lines_prorate_base_fee_and_minimum(calls, expected_lines):
    plan = _plan(base_fee=D("49.00"), minimum_commitment=D("100"))
    segment = Segment("cus", plan, dt.date(2026, 9, 16), dt.date(2026, 10, 1))  # 15 of 30 days
    lines = segment_lines(segment, {"c": (D(calls), calls)})
    assert {ln.line_type: ln.amount for ln in lines} == expected_lines
    assert all(ln.quantity == 15 for ln in lines if ln.line_type != "usage")


def test_charge_amount_dispatches_on_model():
    grad = Charge("g", "m", "sum", "graduated", tiers=TIERS)
    vol = Charge("v", "m", "sum", "volume", tiers=TIERS)
    pkg = Charge("k", "m", "sum", "package", package_size=D(10), package_price=D("2"))
    pct = Charge("r", "m", "sum", "percentage", rate=D("0.1"), fixed_fee=D("0.05"))
    assert charge_amount(grad, D(101), 0) == D("115.50")
    assert charge_amount(vol, D(101), 0) == D("55.50")
    assert charge_amount(pkg, D(11), 0) == D("4")
    assert charge_amount(pct, D(10), 3) == D("1.15")


def test_grouped_aggregation_equals_the_per_event_oracle_for_every_aggregation():
    """`aggregate_groups` over `usage_groups` (what simulate and the demo billing use) gives
    the per-event oracle's units and events, for every aggregation and filter, on events with
    repeated timestamps, several days, statuses and properties."""
    import random

    import polars as pl

    from transforms.rating import aggregate_groups, usage_groups

    rng = random.Random(11)
    raw = []
    for n in range(400):
        at = dt.datetime(2026, 9, 1 + rng.randrange(3), rng.randrange(2), tzinfo=dt.UTC)
        props = {"model": rng.choice(["small", "large"]), "user": f"u{rng.randrange(7)}"}
        raw.append(
            (
                f"e{n:03d}",
                at,
                rng.choice(["calls", "tokens"]),
                D(rng.randrange(1, 500)) / 100,
                rng.choice([200, 201, 404, 500, None]),
                props,
            )
        )
    events = [_ev_full(*r) for r in raw]
    frame = pl.LazyFrame(
        {
            "event_id": [r[0] for r in raw],
            "occurred_at": [r[1] for r in raw],
            "customer_id": ["c"] * len(raw),
            "metric": [r[2] for r in raw],
            "quantity": pl.Series([r[3] for r in raw], dtype=pl.Decimal(38, 9)),
            "status": pl.Series([r[4] for r in raw], dtype=pl.Int32),
            "properties": [json.dumps(r[5], separators=(",", ":")) for r in raw],
        }
    )
    groups = usage_groups(frame)
    for aggregation in ("sum", "count", "max", "unique_count", "latest"):
        for status, props in (((), ()), (((200, 299),), ()), ((), (("model", ("large",)),))):
            charge = Charge(
                "c1",
                "calls",
                aggregation,
                "per_unit",
                unique_property="user",
                status_ranges=status,
                property_filters=props,
                unit_price=D(1),
            )
            assert aggregate_groups(charge, groups) == aggregate(charge, events), (
                aggregation,
                status,
                props,
            )


def _ev_full(eid, at, metric, quantity, status, props):
    return Event(eid, at, metric, quantity, status, props)
