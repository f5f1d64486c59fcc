"""Billing cadences: the periods a subscription is billed in (the reference the warehouse's
period models will follow; rating still bills calendar months, and the price book refuses the
cadence fields until it does).

- `calendar` anchor: months; quarters starting 1 January, April, July and October; years
  starting 1 January. A subscription starting inside a period has a partial first period.
- `subscription` anchor (anniversary): period k starts at started_at + k intervals, the day of
  the month min(the start's day, the days of that month) (dateutil's relativedelta from the
  start, so 31 January gives 28 February, then 31 March); it ends (exclusive) where the next
  starts. The first period is whole.
- A period's days are its own (28-31, 90-92, 365-366): what a partial segment of it is
  prorated over.
- `usage_invoicing: monthly` (quarter and year only) invoices a billing period's usage month by
  month: the months of a billing period start at its start + k months, on the anchor's day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
ANCHORS = ("calendar", "subscription")


@dataclass(frozen=True)
class Cadence:
    interval: str = "month"  # month | quarter | year
    anchor: str = "calendar"  # calendar | subscription

    @property
    def months(self) -> int:
        return INTERVAL_MONTHS[self.interval]


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def months(self) -> Iterator[Period]:
        """The period month by month from its start (usage invoiced monthly)."""
        k = 0
        while (start := self.start + relativedelta(months=k)) < self.end:
            yield Period(start, min(self.start + relativedelta(months=k + 1), self.end))
            k += 1


def period_of(cadence: Cadence, started_at: dt.date, day: dt.date) -> Period:
    """The billing period of a subscription started on `started_at` that holds `day` (on or
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
    cadence: Cadence, started_at: dt.date, ended_at: dt.date | None, until: dt.date
) -> list[tuple[Period, Period]]:
    """Each billing period of the subscription that starts before `until`, with the segment
    the subscription holds of it (from started_at, to ended_at when it ends inside)."""
    out = []
    day = started_at
    while day < until and (ended_at is None or day < ended_at):
        period = period_of(cadence, started_at, day)
        held = Period(max(period.start, started_at), min(period.end, ended_at or period.end))
        out.append((period, held))
        day = period.end
    return out
