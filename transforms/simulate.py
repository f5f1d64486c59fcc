"""Price simulation (`tally simulate`): a month rated under a candidate price book.

Given the month's accepted events, the subscriptions, the coupons redeemed and the current
subtotals, rates with the pure functions of transforms.rating (and applies the candidate book's
coupons with transforms.coupons), so a candidate price book is priced exactly as the warehouse
would price it. The command reads its inputs (lake and warehouse, read-only) and
writes nothing to the lake or the marts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from transforms.coupons import Coupon, Redemption, apply_coupons
from transforms.items import InvoiceLine, invoice_items
from transforms.numbers import AMOUNT
from transforms.pricebook import PriceBook
from transforms.rating import rate_period, usage_groups

ZERO = Decimal(0)


class SimulationError(ValueError):
    """A simulation that cannot run, with the reason."""


@dataclass(frozen=True)
class SimulatedInvoice:
    customer_id: str
    currency: str
    current: Decimal
    simulated: Decimal

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.current


def other_cadence(book: PriceBook, subscriptions: pl.DataFrame) -> list[str]:
    """The customers subscribed to a plan `book` bills on another cadence than calendar months
    in arrears (a quarter, a year, an anniversary period, a base fee in advance): a month's
    usage and fee alone are not their invoice, and simulate leaves them out."""
    plans = sorted(p.plan_id for p in book.plans if not p.monthly_in_arrears)
    customers = subscriptions.filter(pl.col("plan_id").is_in(plans))["customer_id"]
    return sorted(customers.unique().to_list())


def simulate_month(
    book: PriceBook,
    month: dt.date,
    *,
    events: pl.LazyFrame,
    subscriptions: pl.DataFrame,
    current: dict[str, tuple[str, Decimal]],
    history: pl.LazyFrame | None = None,
    redemptions: pl.DataFrame | None = None,
    current_coupons: dict[str, Coupon] | None = None,
) -> list[SimulatedInvoice]:
    """Per customer: the month's current subtotal (`current`: customer -> currency, subtotal)
    and its subtotal under `book`, from the month's `events` and the `subscriptions`; `history`
    holds the earlier events of the metrics the book's recurring charges price; `redemptions`
    (coupon_redemptions, as the lake holds it) the coupons redeemed, on the candidate book's
    terms, or the current ones (`current_coupons`) for a coupon the candidate does not have.
    Customers on another cadence (`other_cadence`) are left out."""
    left_out = other_cadence(book, subscriptions)
    subscriptions = subscriptions.filter(~pl.col("customer_id").is_in(left_out))
    current = {c: v for c, v in current.items() if c not in left_out}
    if history is not None:
        events = pl.concat([history, events])
    try:
        groups = usage_groups(events, hours=book.hourly)
        by_event = book.metrics_priced_by_event
        singles = (
            events.filter(pl.col("metric").is_in(sorted(by_event))).collect() if by_event else None
        )
        rated = rate_period(book, month, groups, subscriptions, singles)
    except LookupError as exc:
        raise SimulationError(f"candidate price book: {exc}") from None
    simulated: dict[str, tuple[str, Decimal]] = {}
    lines: dict[str, list[InvoiceLine]] = {}
    for r in rated:
        customer, currency = r.segment.customer_id, r.segment.plan.currency
        simulated[customer] = (currency, simulated.get(customer, (currency, ZERO))[1] + r.amount)
        lines.setdefault(customer, []).extend(
            InvoiceLine(ln.line_type, ln.charge_id, ln.amount) for ln in r.lines
        )
    for customer, redeemed in _redeemed(book, redemptions, current_coupons or {}).items():
        if customer in simulated:
            currency, amount = simulated[customer]
            discounts, _ = apply_coupons(
                invoice_items(lines[customer], currency), redeemed, month, currency
            )
            simulated[customer] = (currency, amount + sum((d.amount for d in discounts), ZERO))
    customers = sorted(set(simulated) | set(current))
    return [
        SimulatedInvoice(
            c,
            (simulated.get(c) or current[c])[0],
            current.get(c, ("", ZERO))[1],
            simulated.get(c, ("", ZERO))[1],
        )
        for c in customers
    ]


def _redeemed(
    book: PriceBook, redemptions: pl.DataFrame | None, current: dict[str, Coupon]
) -> dict[str, list[Redemption]]:
    """The redemptions per customer, with the candidate book's coupon terms (else the
    current ones)."""
    if redemptions is None or redemptions.height == 0:
        return {}
    coupons = current | {c.coupon_id: c for c in book.coupons}
    out: dict[str, list[Redemption]] = {}
    for r in redemptions.iter_rows(named=True):
        if r["coupon_id"] not in coupons:
            raise SimulationError(
                f"coupon_redemptions.csv redeems {r['coupon_id']!r}, a coupon neither the "
                "candidate price book nor the current one has"
            )
        out.setdefault(r["customer_id"], []).append(
            Redemption(r["redemption_id"], coupons[r["coupon_id"]], r["redeemed_on"])
        )
    return out


def simulation_frame(results: list[SimulatedInvoice]) -> pl.DataFrame:
    money = AMOUNT.dtype
    return pl.DataFrame(
        {
            "customer_id": [r.customer_id for r in results],
            "currency": [r.currency for r in results],
            "current": pl.Series([r.current for r in results], dtype=money),
            "simulated": pl.Series([r.simulated for r in results], dtype=money),
            "difference": pl.Series([r.difference for r in results], dtype=money),
        },
    )
