"""Worked examples of the pricing breadth (part A) models, each figure computed by hand: tiers
at a rate (graduated_percentage), tiers priced in packages, packages rounded down, and the
avg and min aggregations. The arithmetic is written next to each expected value."""

import datetime as dt
import json
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


# --- recurring metrics and unique_count removals (Lago's examples) -----------------------------

SEPTEMBER_9 = dt.datetime(2026, 9, 9, tzinfo=dt.UTC)


def _seat(eid: str, at: dt.datetime, user: str, operation: str | None = None) -> Event:
    props = {"user": user} | ({"operation_type": operation} if operation else {})
    return Event(eid, at, "seats", D(1), properties=props)


def _both_ways(charge: Charge, events: list[Event], start=OCTOBER[0], end=OCTOBER[1]):
    """Units by the per-event oracle and by the reference that simulate uses (events grouped by
    day, earlier periods included); the two must agree."""
    import polars as pl

    from transforms.rating import aggregate_groups, usage_groups

    oracle = aggregate(charge, events, segment_start=start, segment_end=end, period=OCTOBER)
    frame = pl.LazyFrame(
        {
            "event_id": [e.event_id for e in events],
            "customer_id": ["c"] * len(events),
            "occurred_at": [e.occurred_at for e in events],
            "metric": [e.metric for e in events],
            "status": [e.status for e in events],
            "properties": [json.dumps(e.properties, sort_keys=True) for e in events],
            "quantity": [e.quantity for e in events],
        },
        schema_overrides={"quantity": pl.Decimal(38, 9), "status": pl.Int32},
    )
    grouped = aggregate_groups(
        charge,
        usage_groups(frame),
        segment_start=start.date(),
        segment_end=end.date(),
        period=(OCTOBER[0].date(), OCTOBER[1].date()),
    )
    assert grouped == oracle
    return oracle


@pytest.mark.parametrize(
    ("recurring", "removal", "units"),
    [
        (True, False, 2),  # A from September, B from October
        (False, False, 1),  # B only: A was added before the period
        (True, True, 1),  # A removed on 24 October 23:59:59: B is left
        (False, True, 1),  # B added; A's latest event in October is its removal
    ],
)
def test_unique_count_counts_the_ids_whose_latest_event_is_not_a_removal(recurring, removal, units):
    charge = Charge("seats", "seats", "unique_count", "per_unit", "user", recurring=recurring)
    events = [_seat("a1", SEPTEMBER_9, "A"), _seat("b1", _oct(19), "B")]
    if removal:
        events.append(
            _seat("a2", dt.datetime(2026, 10, 24, 23, 59, 59, tzinfo=dt.UTC), "A", "remove")
        )
    assert _both_ways(charge, events)[0] == units


def test_a_removal_anywhere_in_the_period_counts_with_no_proration():
    """Lago: A added on 9 September, removed on 24 October at 23:59:59: October bills 0."""
    charge = Charge("seats", "seats", "unique_count", "per_unit", "user", recurring=True)
    events = [
        _seat("a1", SEPTEMBER_9, "A"),
        _seat("a2", dt.datetime(2026, 10, 24, 23, 59, 59, tzinfo=dt.UTC), "A", "remove"),
    ]
    assert _both_ways(charge, events) == (D(0), 1)


def test_an_id_added_again_after_its_removal_counts():
    charge = Charge("seats", "seats", "unique_count", "per_unit", "user")
    events = [
        _seat("a1", _oct(2), "A"),
        _seat("a2", _oct(3), "A", "remove"),
        _seat("a3", _oct(4), "A", "add"),  # any operation but remove adds
    ]
    assert _both_ways(charge, events) == (D(1), 3)


@pytest.mark.parametrize(("recurring", "units"), [(True, D(53)), (False, D(48))])
def test_a_recurring_sum_carries_every_earlier_period(recurring, units):
    """Lago: 2.5 + 2.5 in September, 4 x 12 in October: recurring 53, not 48."""
    charge = Charge("seats", "seats", "sum", "per_unit", recurring=recurring)
    events = [
        Event("s1", SEPTEMBER_9, "seats", D("2.5")),
        Event("s2", SEPTEMBER_9, "seats", D("2.5")),
    ]
    events += [Event(f"o{i}", _oct(2 + i), "seats", D(12)) for i in range(4)]
    assert _both_ways(charge, events) == (units, 4)


def test_a_recurring_weighted_sum_starts_at_the_level_carried_over():
    """10 GB attached in September, +20 on 16 October: (10 x 15 + 30 x 16) / 31 = 20.322580645
    GB-months (not recurring: 20 x 16 / 31 = 10.322580645)."""
    events = [_change("a", SEPTEMBER_9, "10"), _change("b", _oct(16), "20")]
    for recurring, units in ((True, D("20.322580645")), (False, D("10.322580645"))):
        charge = Charge(
            "storage",
            "storage_gb",
            "weighted_sum",
            "per_unit",
            unit_price=D("0.10"),
            recurring=recurring,
        )
        assert _both_ways(charge, events) == (units, 1)


def test_a_recurring_charge_on_a_segment_that_starts_mid_period_counts_the_days_before_it():
    """A plan change on 10 October: the new segment's recurring sum holds the 3 seats bought on
    the 5th and the 2 on the 12th; the weighted level starts at 3 on the 10th."""
    events = [Event("x", _oct(5), "seats", D(3)), Event("y", _oct(12), "seats", D(2))]
    seats = Charge("seats", "seats", "sum", "per_unit", recurring=True)
    assert _both_ways(seats, events, start=_oct(10)) == (D(5), 1)
    level = Charge("lvl", "seats", "weighted_sum", "per_unit", recurring=True)
    # 3 x 22 days (10th to the end) + 2 x 20 days (12th to the end) = 106 / 31
    assert _both_ways(level, events, start=_oct(10)) == (D("3.419354839"), 1)


# --- buckets: max or sum per UTC hour or day, each priced on its own (Flexprice) ----------------

GPU_TIERS = (
    Tier(D(10), unit_price=D("0.10")),
    Tier(D(20), unit_price=D("0.05")),
    Tier(None, unit_price=D("0.02")),
)


def _bucketed_line(charge: Charge, values: list[str]) -> D:
    from transforms.pricebook import Plan
    from transforms.rating import Segment, segment_lines

    plan = Plan("p", 1, dt.date(2026, 1, 1), "USD", D(0), None, None, (charge,), "plans.yaml")
    segment = Segment("c", plan, dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    buckets = [D(v) for v in values]
    [line] = segment_lines(segment, {charge.charge_id: (sum(buckets, D(0)), 0, buckets)})
    return line.amount


@pytest.mark.parametrize(
    ("model", "fields", "values", "amount"),
    [
        # 9 in tier 1 (0.90); 15: 10 x 0.10 + 5 x 0.05 = 1.25 -> 2.15 (not 24 through the tiers)
        ("graduated", {"tiers": GPU_TIERS}, ["9", "15"], D("2.15")),
        ("volume", {"tiers": GPU_TIERS}, ["9", "15"], D("1.65")),  # 0.90 + 15 x 0.05
        ("per_unit", {"unit_price": D("0.10")}, ["9", "10"], D("1.90")),
        # packages of 100 at 5, rounded up in each bucket: 5 + 10 + 10 + 5
        (
            "package",
            {"package_size": D(100), "package_price": D(5)},
            ["50", "150", "200", "99"],
            D(30),
        ),
    ],
)
def test_each_bucket_is_priced_on_its_own(model, fields, values, amount):
    charge = Charge("gpus", "gpus_in_use", "max", model, bucket="day", **fields)
    assert _bucketed_line(charge, values) == amount


def test_bucket_values_are_the_max_or_sum_of_each_hour_or_day():
    """Maxima 9 (of 2, 5, 6, 9) on 2 October and 15 on the 3rd; by the hour, the 2nd splits in
    two hours (6 at 10:00, 9 at 11:00)."""
    import polars as pl

    from transforms.rating import aggregate_groups, bucket_values, usage_groups

    readings = [(2, 10, "2"), (2, 10, "5"), (2, 10, "6"), (2, 11, "9"), (3, 0, "15")]
    frame = pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(len(readings))],
            "customer_id": ["c"] * len(readings),
            "occurred_at": [_oct(d, h) for d, h, _ in readings],
            "metric": ["gpus_in_use"] * len(readings),
            "status": [None] * len(readings),
            "properties": [None] * len(readings),
            "quantity": [D(q) for *_, q in readings],
        },
        schema_overrides={
            "quantity": pl.Decimal(38, 9),
            "status": pl.Int32,
            "properties": pl.String,
        },
    )
    by_day = Charge("gpus", "gpus_in_use", "max", "per_unit", unit_price=D(1), bucket="day")
    by_hour = Charge("gpus", "gpus_in_use", "max", "per_unit", unit_price=D(1), bucket="hour")
    summed = Charge("gpus", "gpus_in_use", "sum", "per_unit", unit_price=D(1), bucket="day")
    assert bucket_values(by_day, usage_groups(frame)) == [D(9), D(15)]
    assert bucket_values(by_hour, usage_groups(frame, hours=True)) == [D(6), D(9), D(15)]
    assert bucket_values(summed, usage_groups(frame)) == [D(22), D(15)]
    # The line's quantity is the sum of the bucket values.
    assert aggregate_groups(by_day, usage_groups(frame)) == (D(24), 5)
    with pytest.raises(ValueError, match="buckets by the hour"):
        bucket_values(by_hour, usage_groups(frame))


# --- percentage: free events, free amount, per-event bounds, the zero rule (Lago's specs) ------


@pytest.mark.parametrize(
    ("terms", "amounts", "expected"),
    [
        # 1.3 % + 2.00, free 3 events / 250: events 1-2 free (50, 150 < 250), event 3 pays on
        # 400 - 250 = 150, event 4 on 400: 550 x 0.013 + 2 x 2.00 = 7.15 + 4.00
        (
            {"rate": D("0.013"), "fixed_fee": D(2), "free_events": 3, "free_amount": D(250)},
            ["50", "100", "250", "400"],
            D("11.15"),
        ),
        # free 3 events only: 400 x 0.013 + 2.00
        (
            {"rate": D("0.013"), "fixed_fee": D(2), "free_events": 3},
            ["50", "100", "250", "400"],
            D("7.20"),
        ),
        # 2.99 %, min 1.75, max 12: 0.299 -> 1.75, 2.392, 299 -> 12: 16.142
        (
            {"rate": D("0.0299"), "per_event_min": D("1.75"), "per_event_max": D(12)},
            ["10", "80", "10000"],
            D("16.14"),
        ),
        # with free_amount 30: 10 free, 80 pays on 60 (1.794), 10,000 -> 12: 13.794
        (
            {
                "rate": D("0.0299"),
                "per_event_min": D("1.75"),
                "per_event_max": D(12),
                "free_amount": D(30),
            },
            ["10", "80", "10000"],
            D("13.79"),
        ),
        # with free_events 3 and free_amount 10,000: 10 and 80 free, the third pays on
        # 10,090 - 10,000 = 90: 2.691
        (
            {
                "rate": D("0.0299"),
                "per_event_min": D("1.75"),
                "per_event_max": D(12),
                "free_events": 3,
                "free_amount": D(10000),
            },
            ["10", "80", "10000"],
            D("2.69"),
        ),
        # an event that reaches free_amount exactly is not free: it pays its fixed fee
        ({"rate": D("0.01"), "fixed_fee": D(1), "free_amount": D(100)}, ["60", "40"], D("1.00")),
        # the zero rule: four events of 0 bill 0, not 4 x 2.00
        ({"rate": D("0.013"), "fixed_fee": D(2), "free_events": 1}, ["0"] * 4, D(0)),
    ],
)
def test_percentage_event_by_event(terms, amounts, expected):
    from transforms.money import round_money
    from transforms.rating import percentage_fees

    charge = Charge("fees", "payment_amount", "sum", "percentage", **terms)
    assert charge.priced_by_event
    assert round_money(percentage_fees(charge, [D(a) for a in amounts]), "USD") == expected


def test_a_percentage_charge_with_no_amount_bills_nothing():
    """Changes the earlier rule: 0 units in 4 events used to bill 4 fixed fees."""
    charge = Charge("fees", "payments", "sum", "percentage", rate=D("0.029"), fixed_fee=D("0.30"))
    assert charge_amount(charge, D(0), 4) == D(0)
    assert charge_amount(charge, D(100), 2) == D("3.50")  # 2.90 + 2 x 0.30
