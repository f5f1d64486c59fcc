"""The demo's billing system of record: what it billed, for tally to reconcile against.

It rates correctly (the pure functions of transforms.rating, transforms.coupons,
transforms.items and transforms.credits, not the warehouse's SQL) and then slips the way real
ones do: a missed invoice, a manual edit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl
from dateutil.relativedelta import relativedelta

from lake.issued import SUBSCRIPTION_COLUMNS
from lake.schemas import REFERENCE_SCHEMAS
from transforms.cadence import held_periods
from transforms.coupons import Redemption, apply_coupons
from transforms.credits import CreditBook, Invoice, total_after_credits
from transforms.grants import Grant, Subscription, allocation_grants, grant_targets
from transforms.items import InvoiceLine, invoice_items
from transforms.price_terms import Plan
from transforms.pricebook import PriceBook
from transforms.rating import Line, month_bounds, rate_period
from transforms.topups import TopUpRule

ZERO = Decimal(0)


def _tax_rate(plan: Plan, line: Line) -> Decimal:
    """A line's tax rate: its charge's, else its plan's (the demo's customers have none)."""
    charge = next((c for c in plan.charges if c.charge_id == line.charge_id), None)
    for rate in (charge.tax_rate if charge else None, plan.tax_rate):
        if rate is not None:
            return rate
    return ZERO


def billed_invoices(
    daily: pl.DataFrame,
    subs: pl.DataFrame,
    customers: pl.DataFrame,
    book: PriceBook,
    grants: pl.DataFrame,
    redemptions: pl.DataFrame,
    topups: pl.DataFrame,
    *,
    start: dt.date,
    end: dt.date,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """What the billing system of record billed for the complete months of [start, end):
    correct rating, coupons, tax and credits (with automatic top-ups), with a few deliberate
    slips.

    Rated from `daily`, the events' `usage_groups` (one row per customer, day, metric, status
    and properties, with what each aggregation needs), not per event. It rates calendar
    months in arrears; a subscription on another cadence is billed when its period ends, and
    none ends inside the demo's months (`_monthly` refuses one that does)."""
    subs = _monthly(book, subs, end)
    months, m = [], start.replace(day=1)
    while m < end:
        months.append(m)
        m = month_bounds(m)[1]
    ccy = dict(customers.select("customer_id", "currency").iter_rows())
    lines: dict[tuple[str, dt.date], list[InvoiceLine]] = {}
    rate_at_end: dict[tuple[str, dt.date], tuple[dt.date, Decimal | None]] = {}
    for month in months:
        p_start, p_end = month_bounds(month)
        if p_end > end:  # only complete months were billed
            continue
        for r in rate_period(book, p_start, daily, subs):
            key = (r.segment.customer_id, p_start)
            if key not in rate_at_end or rate_at_end[key][0] < r.segment.start:  # at period end
                rate_at_end[key] = (r.segment.start, r.segment.plan.credit_rate)
            lines.setdefault(key, []).extend(
                InvoiceLine(ln.line_type, ln.charge_id, ln.amount, _tax_rate(r.segment.plan, ln))
                for ln in r.lines
            )
    redeemed = _redeemed(book, redemptions)
    credits_book = _credit_book(book, subs, grants, topups, end)
    rows = []
    settled = None  # the month whose grants were settled last: months close in order
    for (cid, p), billed_lines in sorted(lines.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if settled != p:
            if settled is not None:
                credits_book.settle(month_bounds(settled)[1], ccy)
            settled = p
        currency = ccy[cid]
        items = invoice_items(billed_lines, currency)
        _, items = apply_coupons(items, redeemed.get(cid, []), p, currency)
        subtotal = sum((i.amount for i in items), ZERO)
        invoice = Invoice(
            cid,
            cid,
            p,
            month_bounds(p)[1],
            currency,
            subtotal,
            rate_at_end[(cid, p)][1],
            sum((i.tax for i in items), ZERO),
            tuple((i.item, i.due) for i in items),
        )
        credits, total = total_after_credits(invoice, credits_book.close(invoice))
        roll = rng.random()
        if roll < 0.03:  # the billing system missed this invoice
            continue
        if roll < 0.08:  # a manual edit nobody reconciled
            subtotal, total = subtotal + Decimal("1.50"), total + Decimal("1.50")
        rows.append(
            (
                f"bill_{p:%Y%m}_{cid}",
                cid,
                p.isoformat(),
                ccy[cid],
                str(subtotal),
                str(credits),
                str(total),
            )
        )
    return pl.DataFrame(
        rows,
        schema=list(REFERENCE_SCHEMAS["billed_invoices"]),  # written as text, as a CSV holds it
        orient="row",
    )


def _monthly(book: PriceBook, subs: pl.DataFrame, end: dt.date) -> pl.DataFrame:
    """The subscriptions billed by calendar month in arrears; the others (a year, a fee in
    advance) must have no period ending before `end`, which this billing system would have
    billed."""
    cadence_of = {p.plan_id: p.cadence for p in book.plans}
    other = {p.plan_id for p in book.plans if not p.monthly_in_arrears}
    others = subs.filter(pl.col("plan_id").is_in(other)).select(*SUBSCRIPTION_COLUMNS)
    held = held_periods([Subscription(*r) for r in others.iter_rows()], cadence_of, end)
    if ended := sorted({h.subscription_id for h in held if h.invoice.end <= end}):
        raise NotImplementedError(
            f"the demo's billing system bills calendar months in arrears only: {ended}"
        )
    return subs.filter(~pl.col("plan_id").is_in(other))


def _redeemed(book: PriceBook, redemptions: pl.DataFrame) -> dict[str, list[Redemption]]:
    """Each customer's coupon redemptions, with the price book's terms."""
    coupons = {c.coupon_id: c for c in book.coupons}
    redeemed: dict[str, list[Redemption]] = {}
    for r in redemptions.iter_rows(named=True):
        redeemed.setdefault(r["customer_id"], []).append(
            Redemption(r["redemption_id"], coupons[r["coupon_id"]], r["redeemed_on"])
        )
    return redeemed


def _credit_book(
    book: PriceBook, subs: pl.DataFrame, grants: pl.DataFrame, topups: pl.DataFrame, end: dt.date
) -> CreditBook:
    """The grants of credit_grants.csv, the plans' credit allocations up to `end`, and the
    top-up rules of credit_topups.csv."""
    allocations: dict[str, list] = {}
    for plan in book.plans:
        allocations.setdefault(plan.plan_id, []).append(
            (plan.version, plan.effective_from, plan.credit_allocation)
        )
    allocated = allocation_grants(
        [Subscription(*r) for r in subs.select(*SUBSCRIPTION_COLUMNS).iter_rows()],
        allocations,
        end + relativedelta(months=1),
        {plan.plan_id: plan.cadence for plan in book.plans},
    )
    listed = [
        Grant(
            g["grant_id"],
            g["customer_id"],
            g["granted_at"],
            Decimal(g["credits"]),
            g["kind"],
            Decimal(g["purchase_amount"]),
            g["expires_at"],
            g["priority"],
            grant_targets(g["applies_to"]),
            g["recurrence"],
            None,
            None if g["rollover_cap"] is None else Decimal(g["rollover_cap"]),
        )
        for g in grants.iter_rows(named=True)
    ]
    rules = [
        TopUpRule(
            r["topup_id"],
            r["customer_id"],
            Decimal(r["threshold_credits"]),
            target_credits=Decimal(r["target_credits"]),
            price_per_credit=Decimal(r["price_per_credit"]),
            max_per_period=int(r["max_per_period"]),
        )
        for r in topups.iter_rows(named=True)
    ]
    return CreditBook([*allocated, *listed], rules)
