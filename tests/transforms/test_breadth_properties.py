"""Properties of the pricing breadth rules that must hold for every price and quantity: a spend
cap never raises an invoice, a minimum never lowers one, and the time-weighted sum of a level
held all period is that level."""

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import Event, aggregate, buckets

from transforms.pricebook import Charge, Plan
from transforms.rating import Segment, segment_lines

amounts = st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False)
quantities = st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False)


def _total(minimum=None, maximum=None, plan_minimum=None, plan_maximum=None, units=D(0)) -> D:
    charge = Charge(
        "calls",
        "api_calls",
        "sum",
        "per_unit",
        unit_price=D(1),
        minimum=minimum,
        maximum=maximum,
    )
    plan = Plan(
        plan_id="p",
        version=1,
        effective_from=dt.date(2026, 1, 1),
        currency="USD",
        base_fee=D("9.99"),
        minimum_commitment=plan_minimum,
        maximum_commitment=plan_maximum,
        credit_rate=None,
        charges=(charge,),
        source_file="plans.yaml",
    )
    segment = Segment("cus", plan, dt.date(2026, 9, 11), dt.date(2026, 10, 1))  # 20 of 30 days
    return sum((ln.amount for ln in segment_lines(segment, {"calls": (units, 1)})), D(0))


@given(amounts, amounts, amounts)
def test_a_spend_cap_never_raises_an_invoice(units, charge_cap, plan_cap):
    uncapped = _total(units=units)
    assert _total(maximum=charge_cap, units=units) <= uncapped
    assert _total(plan_maximum=plan_cap, units=units) <= uncapped
    assert _total(maximum=charge_cap, plan_maximum=plan_cap, units=units) <= uncapped


@given(amounts, amounts, amounts)
def test_a_minimum_never_lowers_an_invoice(units, charge_minimum, plan_minimum):
    bare = _total(units=units)
    assert _total(minimum=charge_minimum, units=units) >= bare
    assert _total(plan_minimum=plan_minimum, units=units) >= bare
    assert _total(minimum=charge_minimum, plan_minimum=plan_minimum, units=units) >= bare


@given(quantities)
def test_weighted_sum_of_a_level_held_all_period_is_the_level(level):
    october = (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    charge = Charge("storage", "storage_gb", "weighted_sum", "per_unit", unit_price=D(1))
    event = Event("a", october[0], "storage_gb", level)
    units, _ = aggregate(charge, [event], segment_end=october[1], period=october)
    assert units == max(level, D(0))  # a level below zero prices as 0


changes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30 * 86400 - 1),  # seconds into October
        st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)


@settings(deadline=None)  # polars' first call in a process takes a moment
@given(changes)
def test_weighted_sum_from_daily_groups_equals_the_level_walked_event_by_event(moves):
    """The reference that simulate uses (sums per day and group, as the warehouse keeps them)
    against the oracle that walks the level change by change."""
    import polars as pl

    from transforms.rating import aggregate_groups, usage_groups

    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    october = (start, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    at = [start + dt.timedelta(seconds=s) for s, _ in moves]
    charge = Charge("storage", "storage_gb", "weighted_sum", "per_unit", unit_price=D(1))
    events = pl.LazyFrame(
        {
            "event_id": [f"e{i}" for i in range(len(moves))],
            "customer_id": ["c"] * len(moves),
            "occurred_at": at,
            "metric": ["storage_gb"] * len(moves),
            "status": [None] * len(moves),
            "properties": [None] * len(moves),
            "quantity": [q for _, q in moves],
        },
        schema_overrides={
            "quantity": pl.Decimal(38, 9),
            "status": pl.Int32,
            "properties": pl.String,
        },
    )
    grouped, _ = aggregate_groups(
        charge,
        usage_groups(events),
        segment_end=october[1].date(),
        period=(october[0].date(), october[1].date()),
    )
    walked = [
        Event(f"e{i}", t, "storage_gb", q)
        for i, (t, (_, q)) in enumerate(zip(at, moves, strict=True))
    ]
    expected, _ = aggregate(charge, walked, segment_end=october[1], period=october)
    assert grouped == expected


seat_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=92 * 86400 - 1),  # seconds from 1 August to 31 October
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from([None, "add", "remove"]),
        st.decimals(min_value=-50, max_value=50, places=2, allow_nan=False),
    ),
    min_size=1,
    max_size=15,
)


@settings(deadline=None)
@given(seat_events, st.integers(min_value=0, max_value=30), st.booleans())
def test_recurring_charges_from_daily_groups_equal_the_events_walked_one_by_one(
    rows, start_day, recurring
):
    """Events from August to October, ids added and removed, a segment that starts on any day
    of October: the reference over daily groups (what simulate uses, and the warehouse keeps)
    counts what the per-event oracle counts, for every recurring aggregation and without
    recurring."""
    import json

    import polars as pl

    from transforms.rating import aggregate_groups, usage_groups

    august = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    october = (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    segment_start = october[0] + dt.timedelta(days=start_day)
    events = [
        Event(
            f"e{i:02d}",
            august + dt.timedelta(seconds=s),
            "seats",
            q,
            properties={"user": user} | ({"operation_type": op} if op else {}),
        )
        for i, (s, user, op, q) in enumerate(rows)
    ]
    frame = pl.LazyFrame(
        {
            "event_id": [e.event_id for e in events],
            "customer_id": ["c"] * len(events),
            "occurred_at": [e.occurred_at for e in events],
            "metric": ["seats"] * len(events),
            "status": [None] * len(events),
            "properties": [json.dumps(e.properties) for e in events],
            "quantity": [e.quantity for e in events],
        },
        schema_overrides={"quantity": pl.Decimal(38, 9), "status": pl.Int32},
    )
    groups = usage_groups(frame)
    before_end = [e for e in events if e.occurred_at < october[1]]
    for aggregation in ("unique_count", "sum", "weighted_sum"):
        charge = Charge(
            "seats",
            "seats",
            aggregation,
            "per_unit",
            unique_property="user" if aggregation == "unique_count" else None,
            recurring=recurring,
            unit_price=D(1),
        )
        expected = aggregate(
            charge,
            before_end,
            segment_start=segment_start,
            segment_end=october[1],
            period=october,
        )
        got = aggregate_groups(
            charge,
            groups.filter(pl.col("d") < october[1].date()),
            segment_start=segment_start.date(),
            segment_end=october[1].date(),
            period=(october[0].date(), october[1].date()),
        )
        assert got == expected, aggregation


readings = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=31 * 86400 - 1),  # seconds into October
        st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
    ),
    min_size=1,
    max_size=20,
)


@settings(deadline=None)
@given(readings, st.sampled_from(["max", "sum"]), st.sampled_from(["hour", "day"]))
def test_bucket_values_from_groups_equal_the_events_bucketed_one_by_one(rows, aggregation, bucket):
    import polars as pl

    from transforms.rating import bucket_values, usage_groups

    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    events = [
        Event(f"e{i}", start + dt.timedelta(seconds=s), "gpus", q) for i, (s, q) in enumerate(rows)
    ]
    frame = pl.LazyFrame(
        {
            "event_id": [e.event_id for e in events],
            "customer_id": ["c"] * len(events),
            "occurred_at": [e.occurred_at for e in events],
            "metric": ["gpus"] * len(events),
            "status": [None] * len(events),
            "properties": [None] * len(events),
            "quantity": [e.quantity for e in events],
        },
        schema_overrides={
            "quantity": pl.Decimal(38, 9),
            "status": pl.Int32,
            "properties": pl.String,
        },
    )
    charge = Charge("g", "gpus", aggregation, "per_unit", unit_price=D(1), bucket=bucket)
    grouped = bucket_values(charge, usage_groups(frame, hours=bucket == "hour"))
    assert grouped == buckets(charge, events)
