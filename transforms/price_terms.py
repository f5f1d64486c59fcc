"""The price book's terms as data: tiers, charges, plans and the book, as validated by
transforms.pricebook and read by rating (transforms.rating) and the lake's tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from transforms.cadence import Cadence


@dataclass(frozen=True)
class Tier:
    """One tier: its units are priced per unit (`unit_price`), in whole packages
    (`package_size` at `package_price`, rounded up inside the tier), or at a `rate` (a fraction
    of the amount, for `graduated_percentage`); `flat_fee` once when the tier is reached."""

    up_to: Decimal | None
    unit_price: Decimal | None = None
    flat_fee: Decimal = Decimal(0)
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    rate: Decimal | None = None

    def price(self, units: Decimal) -> Decimal:
        """The exact price of `units` inside this tier, before its flat fee."""
        if self.package_size is not None and self.package_price is not None:
            return (units / self.package_size).to_integral_value(ROUND_CEILING) * self.package_price
        if self.rate is not None:
            return units * self.rate
        return units * (self.unit_price or Decimal(0))


@dataclass(frozen=True)
class Charge:
    charge_id: str
    metric: str
    aggregation: str
    model: str
    unique_property: str | None = None
    # sum, unique_count, weighted_sum: the scope is every matching event before the segment's
    # end, from any earlier period (seats bought and never returned)
    recurring: bool = False
    # max or sum per UTC hour or day, each bucket priced on its own (tiers restart)
    bucket: str | None = None
    # one usage line per distinct tuple of these properties' values, each group priced on its
    # own: by the first group price whose match holds, else by the charge's own price
    group_by: tuple[str, ...] = ()
    group_prices: tuple[GroupPrice, ...] = ()
    status_ranges: tuple[tuple[int, int], ...] = ()  # empty = any status
    property_filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unit_price: Decimal | None = None
    free_units: Decimal = Decimal(0)
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal | None = None
    package_price: Decimal | None = None
    rate: Decimal | None = None
    fixed_fee: Decimal = Decimal(0)
    # percentage: the first free_events events and the first free_amount of amount are free
    # (whichever ends first); each paying event bills at least per_event_min, at most _max
    free_events: int | None = None
    free_amount: Decimal | None = None
    per_event_min: Decimal | None = None
    per_event_max: Decimal | None = None
    rounding: str = "up"  # packages: a part package counts as one (up) or not at all (down)
    minimum: Decimal | None = None  # the charge's minimum spend per period (prorated)
    maximum: Decimal | None = None  # its spend cap per period (prorated)
    description: str | None = None  # the invoice line's text (else a readable default)
    unit: str | None = None  # what the quantity counts, as shown (else transforms/units.py)
    tax_rate: Decimal | None = None  # overrides the plan's and the customer's for this charge

    def price_for(self, values: dict[str, str | None]) -> Charge:
        """The price of the group with these `group_by` values: the first group price whose
        match holds, else the charge itself."""
        return next((g.price for g in self.group_prices if g.matches(values)), self)

    @property
    def priced_by_event(self) -> bool:
        """A percentage charge with a free allowance or per-event bounds: rated event by event
        in (occurred_at, event_id) order, not from its total."""
        terms = (self.free_events, self.free_amount, self.per_event_min, self.per_event_max)
        return self.model == "percentage" and any(t is not None for t in terms)


@dataclass(frozen=True)
class GroupPrice:
    """A price for the groups of a charge whose properties `match`: each listed property equals
    one of its values. `price` is the charge under the entry's model and fields (nothing else of
    the charge's price is inherited)."""

    match: tuple[tuple[str, tuple[str, ...]], ...]
    price: Charge

    def matches(self, values: dict[str, str | None]) -> bool:
        return all(values.get(key) in allowed for key, allowed in self.match)


@dataclass(frozen=True)
class CreditAllocation:
    """Promotional credits a plan grants each billing period of a subscription to it
    (transforms/credits.py `allocation_grants`)."""

    credits: Decimal
    rollover_cap: Decimal = Decimal(0)
    priority: int = 50


@dataclass(frozen=True)
class Plan:
    plan_id: str
    version: int
    effective_from: dt.date
    currency: str
    base_fee: Decimal
    minimum_commitment: Decimal | None
    credit_rate: Decimal | None
    charges: tuple[Charge, ...]
    source_file: str
    name: str | None = None  # shown on invoice documents and reports
    description: str | None = None
    maximum_commitment: Decimal | None = None  # spend cap on usage per period (prorated)
    tax_rate: Decimal | None = None  # overrides the customer's for this plan's items
    credit_allocation: CreditAllocation | None = None
    # The billing cadence (transforms/cadence.py): the same in every version of a plan.
    billing_interval: str = "month"  # month | quarter | year
    billing_anchor: str = "calendar"  # calendar | subscription
    base_fee_timing: str = "in_arrears"  # in_arrears | in_advance
    usage_invoicing: str = "per_period"  # per_period | monthly (quarter and year only)

    @property
    def cadence(self) -> Cadence:
        return Cadence(
            self.billing_interval, self.billing_anchor, self.usage_invoicing == "monthly"
        )

    @property
    def monthly_in_arrears(self) -> bool:
        """Billed by calendar month with the base fee after its month: the default cadence,
        the one a calendar month's invoice is the whole of."""
        return (self.billing_interval, self.billing_anchor, self.base_fee_timing) == (
            "month",
            "calendar",
            "in_arrears",
        )


@dataclass(frozen=True)
class PriceBook:
    plans: tuple[Plan, ...] = field(default_factory=tuple)
    coupons: tuple = field(default_factory=tuple)  # transforms.coupons.Coupon, by coupon_id

    @property
    def metrics(self) -> set[str]:
        return {c.metric for p in self.plans for c in p.charges}

    @property
    def signed_metrics(self) -> set[str]:
        """Metrics whose negative quantities are accepted: those a weighted_sum charge of any
        plan or version prices."""
        return {c.metric for p in self.plans for c in p.charges if c.aggregation == "weighted_sum"}

    @property
    def hourly(self) -> bool:
        """Whether a charge buckets by the hour (rating then needs hourly groups)."""
        return any(c.bucket == "hour" for p in self.plans for c in p.charges)

    @property
    def metrics_priced_by_event(self) -> set[str]:
        """Metrics a charge (or a group price) priced event by event prices."""
        return {
            c.metric
            for p in self.plans
            for c in p.charges
            if c.priced_by_event or any(g.price.priced_by_event for g in c.group_prices)
        }

    @property
    def recurring_metrics(self) -> set[str]:
        """Metrics a recurring charge of any plan or version prices: their history before a
        period counts in it."""
        return {c.metric for p in self.plans for c in p.charges if c.recurring}
