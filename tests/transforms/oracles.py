"""Oracles: plain Python restatements of rules the product computes another way.

The warehouse aggregates usage and builds revenue in SQL, and `transforms.rating` aggregates
grouped usage in Polars; these per-event and per-entry versions say what the right answer is,
in the simplest form, so tests can hold the product to them. They have no production caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from transforms.credits import Consumption, CreditBook
from transforms.grants import Grant
from transforms.pricebook import Charge

ZERO = Decimal(0)


@dataclass(frozen=True)
class Event:
    """One accepted usage event, as rating sees it."""

    event_id: str
    occurred_at: dt.datetime
    metric: str
    quantity: Decimal = Decimal(1)
    status: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


def matches(charge: Charge, event: Event) -> bool:
    """Whether a charge bills this event: same metric, and every filter holds."""
    if event.metric != charge.metric:
        return False
    if charge.status_ranges and not (
        event.status is not None
        and any(lo <= event.status <= hi for lo, hi in charge.status_ranges)
    ):
        return False
    return all(event.properties.get(key) in values for key, values in charge.property_filters)


def aggregate(
    charge: Charge,
    events: Iterable[Event],
    *,
    segment_start: dt.datetime | None = None,
    segment_end: dt.datetime | None = None,
    period: tuple[dt.datetime, dt.datetime] | None = None,
) -> tuple[Decimal, int]:
    """Units and billable events of one charge over a segment's events.

    sum and count add up quantities and events; max and min take the largest and the smallest
    quantity; avg their mean, to 9 decimals rounded half-up; unique_count
    counts the distinct non-null values of `unique_property` whose latest event is not a
    removal (`operation_type: remove`); latest takes the quantity of the
    last event by occurred_at, ties going to the highest event_id; weighted_sum walks the
    level event by event (each quantity a change at its instant, to the whole second) and
    integrates it to `segment_end`, over the `period`'s seconds, to 9 decimals half-up, a level
    below zero counting 0. No events: zero units.

    Events before `segment_start` count only for a recurring charge: in a sum and a
    unique_count, and as the level a weighted_sum starts the segment at. Billable events are
    the segment's own.
    """
    billable = [e for e in events if matches(charge, e)]
    in_segment = [e for e in billable if segment_start is None or e.occurred_at >= segment_start]
    if not charge.recurring:
        billable = in_segment
    if not billable:
        return ZERO, 0
    if charge.aggregation == "sum":
        units = sum((e.quantity for e in billable), ZERO)
    elif charge.aggregation == "count":
        units = Decimal(len(billable))
    elif charge.aggregation == "max":
        units = max(e.quantity for e in billable)
    elif charge.aggregation == "min":
        units = min(e.quantity for e in billable)
    elif charge.aggregation == "avg":
        mean = sum((e.quantity for e in billable), ZERO) / len(billable)
        units = mean.quantize(Decimal("0.000000001"), rounding=ROUND_HALF_UP)
    elif charge.aggregation == "unique_count":
        units = _ids_added(billable, charge.unique_property)
    elif charge.aggregation == "weighted_sum":
        carried = [e for e in billable if segment_start and e.occurred_at < segment_start]
        units = _level_integral(carried, in_segment, segment_start, segment_end, period)
    elif charge.aggregation == "latest":
        units = max(max(billable, key=lambda e: (e.occurred_at, e.event_id)).quantity, ZERO)
    else:
        raise ValueError(f"unknown aggregation {charge.aggregation!r}")
    return units, len(in_segment)


def buckets(charge: Charge, events: Iterable[Event]) -> list[Decimal]:
    """A bucketed charge's value per UTC hour or day with events (max or sum), in time order."""
    values: dict[dt.datetime, list[Decimal]] = {}
    for e in (e for e in events if matches(charge, e)):
        at = e.occurred_at.astimezone(dt.UTC)
        start = at.replace(minute=0, second=0, microsecond=0)
        if charge.bucket == "day":
            start = start.replace(hour=0)
        values.setdefault(start, []).append(e.quantity)
    pick = max if charge.aggregation == "max" else (lambda qs: sum(qs, ZERO))
    return [pick(values[k]) for k in sorted(values)]


def _ids_added(events: list[Event], unique_property: str) -> Decimal:
    """The values of `unique_property` whose latest event is not a removal."""
    latest = {}
    for e in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        if e.properties.get(unique_property) is not None:
            latest[e.properties[unique_property]] = e
    removed = [e for e in latest.values() if e.properties.get("operation_type") == "remove"]
    return Decimal(len(latest) - len(removed))


def _level_integral(carried, changed, segment_start, segment_end, period) -> Decimal:
    """The level walked change by change from the `carried` events' sum at the segment's start,
    integrated to its end, over the period's seconds (9 decimals half-up, at least 0)."""
    changes = sorted((e.occurred_at.replace(microsecond=0), e.quantity) for e in changed)
    if carried:
        changes.insert(0, (segment_start, sum((e.quantity for e in carried), ZERO)))
    level, integral = ZERO, ZERO
    for (at, change), after in zip(
        changes, [c[0] for c in changes[1:]] + [segment_end], strict=True
    ):
        level += change
        integral += level * Decimal(int((after - at).total_seconds()))
    seconds = Decimal(int((period[1] - period[0]).total_seconds()))
    return max((integral / seconds).quantize(Decimal("0.000000001"), ROUND_HALF_UP), ZERO)


@dataclass(frozen=True)
class RevenueMonth:
    customer_id: str
    month: dt.date
    billed_revenue: Decimal
    credit_revenue: Decimal
    breakage_revenue: Decimal
    promotional_discount: Decimal
    purchases: Decimal
    deferred_opening: Decimal
    deferred_closing: Decimal

    @property
    def recognized_revenue(self) -> Decimal:
        return self.billed_revenue + self.credit_revenue + self.breakage_revenue


def _month(d: dt.date) -> dt.date:
    return d.replace(day=1)


def revenue_by_month(
    grants: Iterable[Grant],
    consumption: Iterable[Consumption],
    expiries: Iterable[Expiry],
    billed: dict[tuple[str, dt.date], Decimal],
) -> list[RevenueMonth]:
    """Revenue per customer and month (ASC 606 style) with the deferred roll-forward.

    billed: cash-billed invoice totals by (customer, period_start). Purchases are deferred when
    granted; consumption recognizes them at cost basis, expiry as breakage.
    """
    rows: dict[tuple[str, dt.date], dict[str, Decimal]] = {}

    def add(customer: str, day: dt.date, field: str, amount: Decimal) -> None:
        row = rows.setdefault((customer, _month(day)), {})
        row[field] = row.get(field, ZERO) + amount

    for g in grants:
        if g.kind == "purchased":
            add(g.customer_id, g.granted_at, "purchases", g.purchase_amount)
    for c in consumption:
        add(c.customer_id, c.entry_date, "credit_revenue", c.revenue)
        add(c.customer_id, c.entry_date, "promotional_discount", c.discount)
    for e in expiries:
        add(e.customer_id, e.entry_date, "breakage_revenue", e.breakage)
    for (customer, period), total in billed.items():
        add(customer, period, "billed_revenue", total)

    out, deferred = [], {}
    for (customer, month), r in sorted(rows.items()):
        opening = deferred.get(customer, ZERO)
        closing = (
            opening
            + r.get("purchases", ZERO)
            - r.get("credit_revenue", ZERO)
            - r.get("breakage_revenue", ZERO)
        )
        deferred[customer] = closing
        out.append(
            RevenueMonth(
                customer_id=customer,
                month=month,
                billed_revenue=r.get("billed_revenue", ZERO),
                credit_revenue=r.get("credit_revenue", ZERO),
                breakage_revenue=r.get("breakage_revenue", ZERO),
                promotional_discount=r.get("promotional_discount", ZERO),
                purchases=r.get("purchases", ZERO),
                deferred_opening=opening,
                deferred_closing=closing,
            )
        )
    return out


@dataclass(frozen=True)
class Expiry:
    grant_id: str
    customer_id: str
    entry_date: dt.date
    credits: Decimal  # the balance that expired, positive
    breakage: Decimal  # deferred revenue recognized (purchased grants), else 0


class ExpiringBook(CreditBook):
    """The credit book with expiry played event by event, as the ledger and breakage marts
    compute it in SQL: a grant's remaining balance expires once, on its expires_at."""

    def __init__(self, grants: Iterable[Grant]):
        super().__init__(grants)
        self.expired: set[str] = set()

    def expire(self, through: dt.date) -> list[Expiry]:
        """Expire every grant whose expires_at is on or before `through`."""
        out = []
        for grant in sorted(self.grants.values(), key=lambda g: g.expires_at or dt.date.max):
            if grant.expires_at is None or grant.expires_at > through:
                continue
            if grant.grant_id in self.expired:
                continue
            self.expired.add(grant.grant_id)
            breakage = self.deferred(grant.grant_id)
            out.append(
                Expiry(
                    grant.grant_id,
                    grant.customer_id,
                    grant.expires_at,
                    self.balance[grant.grant_id],
                    breakage,
                )
            )
            self.recognized[grant.grant_id] += breakage
            self.balance[grant.grant_id] = ZERO
        return out
