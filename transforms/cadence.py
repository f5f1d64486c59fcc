"""Billing cadences: the periods a subscription is billed in (the reference
int_subscription_segments follows).

- `calendar` anchor: months; quarters starting 1 January, April, July and October; years
  starting 1 January. A subscription starting inside a period has a partial first period.
- `subscription` anchor (anniversary): period k starts at started_at + k intervals, the day of
  the month min(the start's day, the days of that month) (dateutil's relativedelta from the
  start, so 31 January gives 28 February, then 31 March); it ends (exclusive) where the next
  starts. The first period is whole.
- A period's days are its own (28-31, 90-92, 365-366): what a partial segment of it is
  prorated over.
- The base fee in arrears is billed on the period's own invoice, prorated by the days held
  (`base_fees`). In advance, the fee of the next period is billed on the invoice before it
  (the first period's own fee, prorated, on the first invoice), and a subscription that ends
  inside a period paid in advance has that period's unused days credited on its invoice.
- `usage_invoicing: monthly` (quarter and year only) invoices a billing period's usage month by
  month: the months of a billing period start at its start + k months, on the anchor's day.
  Each month's invoice rates its own usage (tiers, free units, charge commitments); the base
  fee stays the period's (on its first or last invoice, `base_fees`) and so do the plan's
  commitments (`period_commitments`).
- A customer's subscriptions of one cadence in a row share their periods (a run: calendar
  ones whatever the gaps, anniversary ones each starting where the one before ended, the
  first one's anchor kept). Where a subscription of another run holds part of a billing
  period, the invoice period is cut: the old subscription's last invoice ends where it
  ends, the new one's first starts where it starts, and a customer's invoices never overlap.
  A cut period is still prorated over the whole billing period's days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from dateutil.relativedelta import relativedelta

from transforms.money import round_money

INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
ANCHORS = ("calendar", "subscription")


@dataclass(frozen=True)
class Cadence:
    interval: str = "month"  # month | quarter | year
    anchor: str = "calendar"  # calendar | subscription
    monthly_usage: bool = False  # usage_invoicing: monthly (quarter and year only)

    @property
    def months(self) -> int:
        return INTERVAL_MONTHS[self.interval]

    @property
    def grid(self) -> tuple[str, str]:
        """What subscriptions in a row must share to share their periods: interval and
        anchor (how usage is invoiced inside a period is each plan's own)."""
        return self.interval, self.anchor


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def months(self, anchor: dt.date | None = None) -> Iterator[Period]:
        """The period month by month (usage invoiced monthly): calendar months, or with an
        anniversary's `anchor` its months, on the anchor's day clamped to each month's end (a
        quarter from 30 April anchored on 31 January: 30 April, 31 May, 30 June)."""
        cadence = Cadence("month", "calendar" if anchor is None else "subscription")
        day = self.start
        while day < self.end:
            month = period_of(cadence, anchor or day, day)
            yield Period(day, min(month.end, self.end))
            day = month.end


def period_of(cadence: Cadence, started_at: dt.date, day: dt.date) -> Period:
    """The billing period of a subscription anchored on `started_at` that holds `day` (on or
    after `started_at`)."""
    step = cadence.months
    if cadence.anchor == "subscription":
        months = (day.year - started_at.year) * 12 + day.month - started_at.month
        k = max(months // step, 0)
        while started_at + relativedelta(months=k * step) > day:
            k -= 1
        while started_at + relativedelta(months=(k + 1) * step) <= day:
            k += 1
        return Period(
            started_at + relativedelta(months=k * step),
            started_at + relativedelta(months=(k + 1) * step),
        )
    first_month = (day.month - 1) // step * step + 1
    start = dt.date(day.year, first_month, 1)
    return Period(start, start + relativedelta(months=step))


def periods(
    cadence: Cadence,
    started_at: dt.date,
    ended_at: dt.date | None,
    until: dt.date,
    anchor: dt.date | None = None,
) -> list[tuple[Period, Period]]:
    """Each billing period of the subscription that starts before `until`, with the segment
    the subscription holds of it (from started_at, to ended_at when it ends inside).
    `anchor`: an anniversary's first day (started_at, or its run's first subscription's)."""
    out = []
    day = started_at
    while day < until and (ended_at is None or day < ended_at):
        period = period_of(cadence, anchor or started_at, day)
        held = Period(max(period.start, started_at), min(period.end, ended_at or period.end))
        out.append((period, held))
        day = period.end
    return out


class Subscribed(Protocol):
    subscription_id: str
    customer_id: str
    plan_id: str
    started_at: dt.date
    ended_at: dt.date | None


@dataclass(frozen=True)
class Held:
    """A subscription's part of one billing period, and the invoice period it is billed on."""

    subscription_id: str
    customer_id: str
    plan_id: str
    invoice: Period  # the invoice's own period
    billing: Period  # the plan's billing period: its days prorate a partial segment
    segment: Period  # the days the subscription holds of it
    next: Period  # the billing period after this one (what a fee in advance pays for)
    # What usage is rated over (tiers, free units, charge commitments): the billing period,
    # or its month when usage is invoiced monthly (then `invoice` and `segment` are that
    # month's part too, one Held per month).
    rating: Period


def held_periods(
    subscriptions: Iterable[Subscribed], cadence_of: Mapping[str, Cadence], until: dt.date
) -> list[Held]:
    """Every subscription's billing periods that start before `until`, with their invoice
    periods (when usage is invoiced monthly, one per month begun before `until`).
    `cadence_of`: each plan's cadence (the default when a plan is not listed)."""
    by_customer: dict[str, list[Subscribed]] = {}
    for s in subscriptions:
        by_customer.setdefault(s.customer_id, []).append(s)
    out = []
    for subs in by_customer.values():
        subs.sort(key=lambda s: (s.started_at, s.subscription_id))
        # Runs: a subscription continues the one before on the same cadence when it is
        # calendar, or anniversary starting where the one before ended (its anchor kept).
        # The subscriptions of a run share their periods (its grid).
        grids: list[tuple[int, Cadence, dt.date]] = []  # each one's (run, cadence, anchor)
        for i, s in enumerate(subs):
            cadence = cadence_of.get(s.plan_id, Cadence())
            continues = (
                i > 0
                and grids[-1][1].grid == cadence.grid
                and (cadence.anchor == "calendar" or subs[i - 1].ended_at == s.started_at)
            )
            grids.append(grids[-1] if continues else (i, cadence, s.started_at))
        grid_by_id = {s.subscription_id: g for s, g in zip(subs, grids, strict=True)}
        grid_of = {i: g[0] for i, g in grid_by_id.items()}
        held = {
            s.subscription_id: periods(cadence, s.started_at, s.ended_at, until, anchor)
            for s, (_, cadence, anchor) in zip(subs, grids, strict=True)
        }
        # per grid and billing period: the days its subscriptions hold of it
        spans: dict[tuple, Period] = {}
        for s in subs:
            for billing, segment in held[s.subscription_id]:
                key = (grid_of[s.subscription_id], billing)
                span = spans.get(key, segment)
                spans[key] = Period(min(span.start, segment.start), max(span.end, segment.end))
        bounds = {  # each subscription's first period's start and last period's end
            i: (p[0][0].start, p[-1][0].end) for i, p in held.items() if p
        }
        for s in subs:
            grid = grid_of[s.subscription_id]
            others = [
                (o, *bounds[o.subscription_id])
                for o in subs
                if grid_of[o.subscription_id] != grid and o.subscription_id in bounds
            ]
            for billing, segment in held[s.subscription_id]:
                span = spans[(grid, billing)]
                cut_before = any(
                    o.started_at < span.start and last_end > billing.start
                    for o, _, last_end in others
                )
                cut_after = any(
                    o.started_at >= span.end and first_start < billing.end
                    for o, first_start, _ in others
                )
                invoice = Period(
                    span.start if cut_before else billing.start,
                    span.end if cut_after else billing.end,
                )
                _, cadence, anchor = grid_by_id[s.subscription_id]
                following = period_of(cadence, anchor, billing.end)
                own = cadence_of.get(s.plan_id, Cadence())
                anchored = anchor if cadence.anchor == "subscription" else None
                slices = billing.months(anchored) if own.monthly_usage else [billing]
                for rating in slices:
                    part = _within(segment, rating)
                    if part is None or rating.start >= until:  # a month not begun
                        continue
                    out.append(
                        Held(
                            s.subscription_id,
                            s.customer_id,
                            s.plan_id,
                            _within(invoice, rating) or invoice,
                            billing,
                            part,
                            following,
                            rating,
                        )
                    )
    return out


def _within(days: Period, span: Period) -> Period | None:
    """The part of `days` inside `span`, None when they do not meet."""
    start, end = max(days.start, span.start), min(days.end, span.end)
    return Period(start, end) if start < end else None


@dataclass(frozen=True)
class Fee:
    """One base-fee line: the days it is for (negative: unused days credited), its amount and
    the days it pays for (its service period)."""

    days: int
    amount: Decimal
    service: Period


def base_fees(
    held: Held,
    subscription: Subscribed,
    fee: Decimal,
    next_fee: Decimal,
    currency: str,
    in_advance: bool,
) -> list[Fee]:
    """The base-fee lines of a subscription's part of a billing period, on that part's
    invoice. `fee`: the plan's fee in force for this period, `next_fee` for the next one. The
    fee is the billing period's: when usage is invoiced monthly, the lines go on the first or
    the last month's invoice of the period, as below, for all the days the subscription holds
    of the period.

    In arrears: the fee prorated by the days held, on the last invoice of the period. In
    advance: the first period's own fee, prorated, on the first invoice; on the period's last
    invoice, the next period's whole fee when the subscription still holds the next period's
    first day; and, when the subscription ends inside a period it paid in advance (every
    period but its first), that period's unused days credited on the invoice where it ends:
    -round(fee * unused days / period days)."""
    billing = held.billing
    days = Period(
        max(billing.start, subscription.started_at),
        min(billing.end, subscription.ended_at or billing.end),
    )
    first, last = held.segment.start == days.start, held.segment.end == days.end
    own = Fee(days.days, _prorate(fee, days.days, billing.days, currency), days)
    if not in_advance:
        return [own] if fee and last else []
    lines = []
    if subscription.started_at >= billing.start:
        if first:
            lines.append(own)
    elif days.end < billing.end and last:
        unused = (billing.end - days.end).days
        lines.append(
            Fee(
                -unused,
                -_prorate(fee, unused, billing.days, currency),
                Period(days.end, billing.end),
            )
        )
    if last and (subscription.ended_at is None or subscription.ended_at > billing.end):
        lines.append(Fee(held.next.days, round_money(next_fee, currency), held.next))
    return [f for f in lines if f.amount]


def period_commitments(
    measured: list[Decimal],
    minimum: Decimal | None,
    maximum: Decimal | None,
    days: int,
    period_days: int,
    currency: str,
) -> list[tuple[Decimal, Decimal]]:
    """A plan's commitments over a billing period invoiced in parts (usage invoiced monthly),
    per part in order: (minimum true-up, spend cap). `measured`: what each part's invoice
    measures (its usage and charge commitment lines, V_1..V_n); `days`: the days the
    subscription holds of the period, over which minimum and maximum are prorated.

    The cap of part m is -(max(0, V_1 + ... + V_m - maximum) - K), K the cap already on the
    parts before it (so the period's caps add up to the excess over the maximum); the true-up,
    max(0, minimum - (V_1 + ... + V_n)), is on the last part only. With one part, the rule of a
    period invoiced whole."""
    floor = None if minimum is None else _prorate(minimum, days, period_days, currency)
    cap = None if maximum is None else _prorate(maximum, days, period_days, currency)
    out, so_far, capped = [], Decimal(0), Decimal(0)
    for i, used in enumerate(measured):
        so_far += used
        excess = Decimal(0) if cap is None else max(Decimal(0), so_far - cap)
        this_cap = -(excess - capped)
        capped = excess
        last = i == len(measured) - 1
        true_up = max(Decimal(0), floor - so_far) if last and floor is not None else Decimal(0)
        out.append((true_up, this_cap))
    return out


def _prorate(amount: Decimal, days: int, period_days: int, currency: str) -> Decimal:
    return round_money(amount * days / period_days, currency)
