"""Grants of prepaid credits: what they may pay, and the instances recurring grants and plans'
credit allocations yield. transforms/credits.py says how they pay invoices.

- `applies_to` (credit_grants.csv): empty, the grant pays anything; else `;`-separated
  `base_fee`, `usage` (every charge item and the plan commitment) or `charge:<charge_id>`.
- A recurring grant (`recurrence` monthly, quarterly or yearly) is a row that yields instances
  `<grant_id>@<start>`: instance k starts granted_at + k intervals (the day clamped to the
  month's end, dateutil's relativedelta), while before recurrence_ends_at and expires_at,
  with the row's credits, kind, priority and purchase_amount, and expires when the next
  starts.
- A plan's credit_allocation grants each billing period of a subscription to it a promotional
  instance `alloc:<subscription_id>@<start>` (`allocation_grants`), from the period's start
  (or the subscription's) to the invoice period's end, prorated by the days the subscription
  holds of the billing period (9 decimals, half-up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from transforms.cadence import Cadence, held_periods
from transforms.price_terms import CreditAllocation

ZERO = Decimal(0)
MONTHS_PER = {"monthly": 1, "quarterly": 3, "yearly": 12}  # a recurring grant's interval
CREDIT_EXPONENT = Decimal("0.000000001")  # credits are kept to 9 decimals


def grant_targets(applies_to: str | None) -> tuple[str, ...]:
    """The entries of a grant's `applies_to` (`;`-separated; empty: the grant pays anything)."""
    return tuple(t.strip() for t in (applies_to or "").split(";") if t.strip())


def target_problem(target: str, charge_ids: set[str]) -> str | None:
    """Why an `applies_to` entry is refused, or None: it is `base_fee`, `usage` or
    `charge:<charge_id>` of a charge the price book has."""
    if target in ("base_fee", "usage"):
        return None
    if not target.startswith("charge:"):
        return f"{target!r} is not base_fee, usage or charge:<charge_id>"
    if target.removeprefix("charge:") not in charge_ids:
        return (
            f"{target!r}: no plan of the price book has charge {target.removeprefix('charge:')!r}"
        )
    return None


@dataclass(frozen=True)
class Grant:
    grant_id: str
    customer_id: str
    granted_at: dt.date
    credits: Decimal
    kind: str  # purchased | promotional
    purchase_amount: Decimal = ZERO
    expires_at: dt.date | None = None
    priority: int = 50
    applies_to: tuple[str, ...] = ()  # empty: anything; else base_fee, usage, charge:<id>
    recurrence: str | None = None  # a row that yields instances: monthly, quarterly, yearly
    recurrence_ends_at: dt.date | None = None  # no instance starts on or after it
    rollover_cap: Decimal | None = None  # credits kept across a boundary (None: no cap)
    instance_of: str | None = None  # the recurring row an instance comes from

    def instances(self, before: dt.date) -> list[Grant]:
        """A recurring row's instances that start before `before`."""
        step = MONTHS_PER[self.recurrence]
        ends = [d for d in (self.recurrence_ends_at, self.expires_at, before) if d is not None]
        out, k = [], 0
        while (start := self.granted_at + relativedelta(months=k * step)) < min(ends):
            after = self.granted_at + relativedelta(months=(k + 1) * step)
            out.append(
                replace(
                    self,
                    grant_id=f"{self.grant_id}@{start.isoformat()}",
                    granted_at=start,
                    expires_at=min(after, self.expires_at or after),
                    recurrence=None,
                    recurrence_ends_at=None,
                    rollover_cap=self.rollover_cap or ZERO,
                    instance_of=self.grant_id,
                )
            )
            k += 1
        return out

    def may_pay(self, item: str) -> bool:
        """Whether the grant may pay an item of an invoice (transforms/items.py names them).
        A carried adjustment is paid only by a grant that may pay anything."""
        if not self.applies_to:
            return True
        is_usage = item == "commitment" or item.startswith("charge:")
        return item in self.applies_to or (is_usage and "usage" in self.applies_to)

    def can_pay(self, period_end: dt.date) -> bool:
        return self.granted_at < period_end and (
            self.expires_at is None or self.expires_at >= period_end
        )

    @property
    def burn_key(self) -> tuple:
        return (
            self.priority,
            self.expires_at is None,
            self.expires_at or dt.date.max,
            self.kind != "promotional",
            self.granted_at,
            self.grant_id,
        )


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    customer_id: str
    plan_id: str
    started_at: dt.date
    ended_at: dt.date | None = None


def allocation_grants(
    subscriptions: Iterable[Subscription],
    allocations: Mapping[str, list[tuple[int, dt.date, CreditAllocation | None]]],
    before: dt.date,
    cadence_of: Mapping[str, Cadence] | None = None,
) -> list[Grant]:
    """The credit allocations of every subscription's billing periods (transforms/cadence.py;
    `cadence_of` each plan's cadence, calendar months when not given) that start before
    `before`. `allocations`: per plan_id, its versions' (version, effective_from, allocation);
    a period takes the highest version in force at its invoice period's start, as rating
    does."""
    out = []
    for held in held_periods(subscriptions, cadence_of or {}, before):
        in_force = [v for v in allocations.get(held.plan_id, []) if v[1] <= held.invoice.start]
        allocation = max(in_force, key=lambda v: v[0])[2] if in_force else None
        if allocation is None:
            continue
        start = held.segment.start
        out.append(
            Grant(
                f"alloc:{held.subscription_id}@{start.isoformat()}",
                held.customer_id,
                start,
                (allocation.credits * held.segment.days / held.billing.days).quantize(
                    CREDIT_EXPONENT, ROUND_HALF_UP
                ),
                "promotional",
                expires_at=held.invoice.end,
                priority=allocation.priority,
                rollover_cap=allocation.rollover_cap,
                instance_of=f"alloc:{held.subscription_id}",
            )
        )
    return out
