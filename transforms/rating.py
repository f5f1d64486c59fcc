"""Pricing semantics as pure Decimal functions.

These are the reference implementation: the warehouse rates at scale in SQL (dbt models), and
these functions say what the right answer is. The generator uses them to write a
billed_invoices.csv that agrees with correct rating, and the tests check worked examples here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import polars as pl

from transforms.money import round_money
from transforms.pricebook import Charge, Plan, PriceBook, Tier

ZERO = Decimal(0)
QUANTUM = Decimal("1e-9")  # quantities carry 9 decimals


def per_unit(units: Decimal, unit_price: Decimal, free_units: Decimal = ZERO) -> Decimal:
    return max(units - free_units, ZERO) * unit_price


def graduated(units: Decimal, tiers: tuple[Tier, ...]) -> Decimal:
    """Each tier prices the units inside it (per unit, in whole packages, or at a rate for
    `graduated_percentage`); each tier reached adds its flat fee once."""
    total, lower = ZERO, ZERO
    for i, tier in enumerate(tiers):
        if i > 0 and units <= lower:
            break
        top = units if tier.up_to is None else min(units, tier.up_to)
        total += tier.price(max(top - lower, ZERO)) + tier.flat_fee
        if tier.up_to is None or units <= tier.up_to:
            break
        lower = tier.up_to
    return total


def volume_tier(units: Decimal, tiers: tuple[Tier, ...]) -> Tier:
    """The tier that contains the total; `up_to` is inclusive and 0 falls in the first."""
    for tier in tiers:
        if tier.up_to is None or units <= tier.up_to:
            return tier
    return tiers[-1]


def volume(units: Decimal, tiers: tuple[Tier, ...]) -> Decimal:
    """All units at the price of the tier the total reaches (in packages of that tier's size
    when it is priced in packages)."""
    tier = volume_tier(units, tiers)
    return tier.price(units) + tier.flat_fee


def package(
    units: Decimal,
    size: Decimal,
    price: Decimal,
    free_units: Decimal = ZERO,
    rounding: str = "up",
) -> Decimal:
    """Whole packages of the units past the free ones: a part package counts as a whole one
    (`up`) or not at all (`down`)."""
    billable = max(units - free_units, ZERO)
    whole = ROUND_CEILING if rounding == "up" else ROUND_FLOOR
    return (billable / size).to_integral_value(rounding=whole) * price


def percentage(units: Decimal, billable_events: int, rate: Decimal, fixed_fee: Decimal) -> Decimal:
    """The rate of the amount and a fixed fee per event; nothing at all when the amount is 0
    (Lago: four events of 0 bill 0, not four fixed fees)."""
    if units == 0:
        return ZERO
    return units * rate + billable_events * fixed_fee


def percentage_fees(charge: Charge, amounts: list[Decimal]) -> Decimal:
    """A percentage charge event by event, `amounts` in (occurred_at, event_id) order. While
    the free allowance lasts (fewer than free_events free events, and the free amounts' running
    sum below free_amount), an event that keeps the running sum strictly below free_amount is
    free; the event that reaches or crosses it pays the rate on its part past free_amount and
    the fixed fee, and ends the allowance. A paying event bills `amount x rate + fixed_fee`,
    raised to per_event_min and lowered to per_event_max. The exact sum; 0 when the amounts
    sum to 0."""
    if sum(amounts, ZERO) == 0:
        return ZERO
    total, running, free = ZERO, ZERO, 0
    allowance = charge.free_events is not None or charge.free_amount is not None
    for amount in amounts:
        billed = amount
        if allowance:
            running += amount
            if charge.free_amount is None or running < charge.free_amount:
                free += 1
                allowance = charge.free_events is None or free < charge.free_events
                continue
            billed, allowance = running - charge.free_amount, False
        fee = billed * charge.rate + charge.fixed_fee
        if charge.per_event_min is not None:
            fee = max(fee, charge.per_event_min)
        if charge.per_event_max is not None:
            fee = min(fee, charge.per_event_max)
        total += fee
    return total


def charge_amount(charge: Charge, units: Decimal, billable_events: int) -> Decimal:
    """The unrounded amount of one usage line."""
    if charge.model == "per_unit":
        return per_unit(units, charge.unit_price, charge.free_units)
    if charge.model in ("graduated", "graduated_percentage"):
        return graduated(units, charge.tiers)
    if charge.model == "volume":
        return volume(units, charge.tiers)
    if charge.model == "package":
        return package(
            units, charge.package_size, charge.package_price, charge.free_units, charge.rounding
        )
    if charge.model == "percentage":
        return percentage(units, billable_events, charge.rate, charge.fixed_fee)
    raise ValueError(f"unknown model {charge.model!r}")


def usage_groups(events: pl.LazyFrame, *, hours: bool = False) -> pl.DataFrame:
    """Events collapsed to one row per (customer, day, metric, status, properties) with what
    every aggregation needs: count, sum and max of quantity, and the last event. With `hours`,
    one row per hour of the day too (`h`), for charges bucketed by the hour.

    The vectorized counterpart of the per-event oracle in tests/transforms/oracles.py, for
    whole months of events (`tally simulate`, the demo's billing system); `aggregate_groups`
    rates a charge from it.
    """
    last = (pl.col("occurred_at"), pl.col("event_id"))
    hour = [pl.col("occurred_at").dt.hour().alias("h")] if hours else []
    return (
        events.group_by(
            "customer_id",
            pl.col("occurred_at").dt.date().alias("d"),
            *hour,
            "metric",
            "status",
            "properties",
        )
        .agg(
            pl.len().alias("n"),
            pl.col("quantity").sum().alias("q"),
            pl.col("quantity").max().alias("q_max"),
            pl.col("quantity").min().alias("q_min"),
            # For weighted_sum: each quantity times the whole seconds from the day's start to
            # its event; with the sum, a level's integral to any later instant.
            (pl.col("quantity") * _seconds_into_day(pl.col("occurred_at"))).sum().alias("qs"),
            pl.col("occurred_at").max().alias("last_at"),
            pl.col("event_id").sort_by(*last).last().alias("last_id"),
            pl.col("quantity").sort_by(*last).last().alias("last_q"),
        )
        .collect()
    )


def mean_quantity(total: Decimal, events: int) -> Decimal:
    """The mean of `events` quantities summing to `total`, to 9 decimals, half-up."""
    return (total / events).quantize(QUANTUM, rounding=ROUND_HALF_UP) if events else ZERO


def _seconds_into_day(at: pl.Expr) -> pl.Expr:
    """Whole seconds from the UTC day's start to an instant."""
    parts = (at.dt.hour(), at.dt.minute(), at.dt.second())
    hour, minute, second = (p.cast(pl.Int64) for p in parts)
    return hour * 3600 + minute * 60 + second


def weighted_units(
    rows: list[tuple[Decimal, Decimal, dt.date]],
    segment_end: dt.date,
    period,
    segment_start: dt.date | None = None,
) -> Decimal:
    """weighted_sum: the time integral of a level over the segment, in units x periods. Each
    row (sum of quantities, sum of quantity x seconds into its day, the day) changes the level
    from its events' instants on; the level holds to the segment's end. A row of a day before
    `segment_start` (a recurring charge's earlier events) is part of the level the segment
    starts at. Divided by the billing period's seconds, to 9 decimals half-up; a level below
    zero prices as 0 (the negative_level finding says so)."""
    period_seconds = (period[1] - period[0]).days * 86400
    integral = Decimal(0)
    for q, qs, day in rows:
        if segment_start is not None and day < segment_start:
            integral += q * (segment_end - segment_start).days * 86400
        else:
            integral += q * (segment_end - day).days * 86400 - qs
    units = (integral / period_seconds).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return max(units, ZERO)


def _property(key: str) -> pl.Expr:
    return pl.col("properties").str.json_path_match(f"$.{key}")


def group_key(group_by: tuple[str, ...]) -> pl.Expr:
    """A group's key: the JSON object of its `group_by` values, keys sorted, a missing property
    null (`{"model":"large"}`, `{"model":null}`)."""
    return pl.struct([_property(k).alias(k) for k in sorted(group_by)]).map_elements(
        lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
        return_dtype=pl.String,
    )


def _charge_usage(charge, groups, events, customer, start, end, period) -> tuple | dict:
    """A charge's usage in one segment (see segment_lines): units, billable events and, for a
    bucketed charge or one priced by event, the bucket values or event amounts; per group key
    for a grouped charge (the groups with events in the segment, or before it for a recurring
    charge; none at all: one entry for the whole charge)."""
    if not charge.group_by:
        return _usage(charge, charge, groups, events, customer, start, end, period)
    own = _matching(charge, groups).with_columns(group_key(charge.group_by).alias("gk"))
    scope = own if charge.recurring else own.filter(pl.col("d") >= start)
    keys = sorted(scope["gk"].unique())
    if not keys:
        return _usage(charge, charge, groups, events, customer, start, end, period)
    if events is not None:
        events = events.with_columns(group_key(charge.group_by).alias("gk"))
    return {
        key: _usage(
            charge,
            charge.price_for(json.loads(key)),
            own.filter(pl.col("gk") == key),
            None if events is None else events.filter(pl.col("gk") == key),
            customer,
            start,
            end,
            period,
        )
        for key in keys
    }


def _usage(charge, price, groups, events, customer, start, end, period) -> tuple:
    units, count = aggregate_groups(
        charge, groups, segment_start=start, segment_end=end, period=period
    )
    if charge.bucket:  # each bucket is priced on its own
        own = _matching(charge, groups.filter(pl.col("d") >= start))
        return units, count, bucket_values(charge, own)
    if price.priced_by_event:
        return units, count, _event_amounts(charge, events, customer, start, end)
    return units, count


def _event_amounts(
    charge: Charge, events: pl.DataFrame | None, customer: str, start: dt.date, end: dt.date
) -> list[Decimal]:
    """The quantities of a charge's events of one customer in [start, end), in (occurred_at,
    event_id) order."""
    if events is None:
        raise ValueError(f"charge {charge.charge_id} is priced event by event: pass the events")
    day = pl.col("occurred_at").dt.date()
    own = events.filter((pl.col("customer_id") == customer) & day.is_between(start, end, "left"))
    return list(_matching(charge, own).sort("occurred_at", "event_id")["quantity"])


def _matching(charge: Charge, groups: pl.DataFrame) -> pl.DataFrame:
    """The groups a charge bills: its metric, and every filter holds."""
    cond = pl.col("metric") == charge.metric
    if charge.status_ranges:
        cond &= pl.any_horizontal(
            [pl.col("status").is_between(lo, hi) for lo, hi in charge.status_ranges]
        )
    for key, values in charge.property_filters:
        cond &= _property(key).is_in(list(values))
    return groups.filter(cond)


def aggregate_groups(
    charge: Charge,
    groups: pl.DataFrame,
    *,
    segment_start: dt.date | None = None,
    segment_end: dt.date | None = None,
    period: tuple[dt.date, dt.date] | None = None,
) -> tuple[Decimal, int]:
    """Units and billable events of one charge over `usage_groups` rows (sum, count, max,
    min, avg: the mean to 9 decimals half-up, unique_count of a property, latest by
    occurred_at with ties to the highest event_id).

    A recurring charge's rows may reach back before `segment_start` (every earlier period):
    they count in its units, and its billable events are the segment's own. unique_count
    counts the ids whose latest event (by occurred_at, then event_id) is not a removal
    (`operation_type: remove`)."""
    matched = _matching(charge, groups)
    in_segment = matched if segment_start is None else matched.filter(pl.col("d") >= segment_start)
    if charge.bucket:
        return sum(bucket_values(charge, in_segment), ZERO), int(in_segment["n"].sum())
    if not charge.recurring:
        matched = in_segment
    if matched.is_empty():
        return ZERO, 0
    events = int(in_segment["n"].sum())
    if charge.aggregation == "count":
        units = Decimal(events)
    elif charge.aggregation == "sum":
        units = matched["q"].sum()
    elif charge.aggregation == "max":
        units = matched["q_max"].max()
    elif charge.aggregation == "min":
        units = matched["q_min"].min()
    elif charge.aggregation == "avg":
        units = mean_quantity(Decimal(matched["q"].sum() or 0), events)
    elif charge.aggregation == "weighted_sum":
        rows = [
            (Decimal(q), Decimal(qs), d) for q, qs, d in matched.select("q", "qs", "d").iter_rows()
        ]
        units = weighted_units(rows, segment_end, period, segment_start)
    elif charge.aggregation == "unique_count":
        units = Decimal(ids_added(matched, charge.unique_property))
    else:  # latest: the last event by occurred_at, ties broken by the highest event_id
        # (floored at 0: a signed metric's last value may be negative, and bills 0)
        units = max(matched.sort("last_at", "last_id")["last_q"][-1], ZERO)
    return Decimal(units), events


def bucket_values(charge: Charge, groups: pl.DataFrame) -> list[Decimal]:
    """A bucketed charge's value in each UTC hour or day that has events (max or sum of the
    quantities), in time order; `groups` are the charge's own (see `usage_groups`, with hours
    for an hourly bucket)."""
    if groups.is_empty():
        return []
    if charge.bucket == "hour" and "h" not in groups.columns:
        raise ValueError(f"charge {charge.charge_id} buckets by the hour: group usage by hours")
    keys = ["d", "h"] if charge.bucket == "hour" else ["d"]
    value = pl.col("q_max").max() if charge.aggregation == "max" else pl.col("q").sum()
    buckets = groups.group_by(keys).agg(value.alias("v")).sort(keys)
    return [Decimal(v) for v in buckets["v"]]


def ids_added(groups: pl.DataFrame, unique_property: str) -> int:
    """The distinct non-null values of `unique_property` whose latest event (by occurred_at,
    then event_id) is not a removal (`operation_type: remove`)."""
    latest = (
        groups.select(
            _property(unique_property).alias("id"),
            _property("operation_type").alias("operation"),
            "last_at",
            "last_id",
        )
        .drop_nulls("id")
        .sort("last_at", "last_id")
        .group_by("id", maintain_order=True)
        .last()
    )
    return latest.filter(pl.col("operation").fill_null("") != "remove").height


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """First day of the month and first day of the next (exclusive end)."""
    start = month.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start, start + dt.timedelta(days=days)


def prorate(amount: Decimal, days: int, days_in_period: int, currency: str) -> Decimal:
    """A per-period amount for part of the period, rounded like every invoice line."""
    return round_money(amount * days / days_in_period, currency)


def plan_for_period(book: PriceBook, plan_id: str, period_start: dt.date) -> Plan | None:
    """The highest version of a plan whose effective_from is on or before the period start."""
    versions = [p for p in book.plans if p.plan_id == plan_id and p.effective_from <= period_start]
    return max(versions, key=lambda p: p.version) if versions else None


@dataclass(frozen=True)
class Segment:
    """Part of a billing period under one plan."""

    customer_id: str
    plan: Plan
    start: dt.date
    end: dt.date  # exclusive


@dataclass(frozen=True)
class Line:
    customer_id: str
    line_type: str
    charge_id: str | None
    quantity: Decimal
    amount: Decimal
    group_key: str | None = None  # a grouped charge's usage line: its group, as JSON


def segment_lines(segment: Segment, usage: dict[str, tuple | dict]) -> list[Line]:
    """Invoice lines for one segment, in the invoice's order: each charge's usage line (one per
    group for a grouped charge), then its minimum true-up or spend cap (on all its usage,
    against its prorated minimum and maximum); the base fee; then the plan's minimum true-up
    and spend cap, on the usage and charge commitment lines (not the base fee).

    `usage` holds per charge_id its units and billable events, and for a bucketed charge its
    bucket values (each priced on its own, the line their exact sum rounded once) or for a
    charge priced by event its events' amounts in order; a grouped charge holds one such entry
    per group key (`group_key`), each priced by the group's own price."""
    plan, cur = segment.plan, segment.plan.currency
    period_start, period_end = month_bounds(segment.start)
    days, period_days = (segment.end - segment.start).days, (period_end - period_start).days
    customer, whole_days = segment.customer_id, Decimal(days)

    def commitments(used: Decimal, minimum, maximum, charge_id: str | None) -> list[Line]:
        lines = []
        if minimum is not None and used < (floor := prorate(minimum, days, period_days, cur)):
            lines.append(Line(customer, "minimum_true_up", charge_id, whole_days, floor - used))
        if maximum is not None and used > (cap := prorate(maximum, days, period_days, cur)):
            lines.append(Line(customer, "spend_cap", charge_id, whole_days, cap - used))
        return lines

    lines = []
    for charge in plan.charges:
        entry = usage.get(charge.charge_id, (ZERO, 0))
        groups = entry if isinstance(entry, dict) else {None: entry}
        own = []
        for key in sorted(groups, key=lambda k: (k is not None, k or "")):
            units, events, *pieces = groups[key]
            price = charge.price_for(json.loads(key)) if key is not None else charge
            amount = round_money(_exact(price, units, events, pieces[0] if pieces else []), cur)
            own.append(Line(customer, "usage", charge.charge_id, units, amount, key))
        lines += own
        used = sum((ln.amount for ln in own), ZERO)
        lines += commitments(used, charge.minimum, charge.maximum, charge.charge_id)
    used = sum((ln.amount for ln in lines), ZERO)
    if plan.base_fee:
        fee = prorate(plan.base_fee, days, period_days, cur)
        lines.append(Line(customer, "base_fee", None, whole_days, fee))
    lines += commitments(used, plan.minimum_commitment, plan.maximum_commitment, None)
    return lines


def _exact(price: Charge, units: Decimal, events: int, pieces: list[Decimal]) -> Decimal:
    """The unrounded amount of one usage line under `price`."""
    if price.bucket:
        return sum((charge_amount(price, v, 0) for v in pieces), ZERO)
    if price.priced_by_event:
        return percentage_fees(price, pieces)
    return charge_amount(price, units, events)


@dataclass(frozen=True)
class RatedSegment:
    """One subscription's part of a billing period, rated: its plan, days and lines."""

    segment: Segment
    lines: list[Line]

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def rate_period(
    book: PriceBook,
    period_start: dt.date,
    groups: pl.DataFrame,
    subscriptions: pl.DataFrame,
    events: pl.DataFrame | None = None,
) -> list[RatedSegment]:
    """Every subscription segment of the period starting `period_start`, rated under `book`
    from usage `groups` (see `usage_groups`; earlier periods' groups of the metrics recurring
    charges price, when the book has any), in subscription order. Raises LookupError when
    the book has no version of a subscribed plan effective at the period's start. `events`
    (the period's events) are read for the charges priced event by event."""
    start, end = month_bounds(period_start)
    rated = []
    for sub in subscriptions.sort("subscription_id").iter_rows(named=True):
        seg_start = max(sub["started_at"], start)
        seg_end = min(sub["ended_at"] or end, end)
        if seg_start >= seg_end:
            continue
        plan = plan_for_period(book, sub["plan_id"], start)
        if plan is None:
            raise LookupError(
                f"the price book has no version of plan {sub['plan_id']!r} effective on "
                f"{start} (subscription {sub['subscription_id']})"
            )
        # A recurring charge reads the customer's earlier periods too.
        seg_groups = groups.filter(
            (pl.col("customer_id") == sub["customer_id"]) & (pl.col("d") < seg_end)
        )
        span = (sub["customer_id"], seg_start, seg_end, (start, end))
        usage = {c.charge_id: _charge_usage(c, seg_groups, events, *span) for c in plan.charges}
        segment = Segment(sub["customer_id"], plan, seg_start, seg_end)
        rated.append(RatedSegment(segment, segment_lines(segment, usage)))
    return rated
