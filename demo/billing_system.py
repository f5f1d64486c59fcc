"""The demo's billing system of record: what it billed, for tally to reconcile against.

It rates correctly (the pure functions of transforms.rating and transforms.credits, not the
warehouse's SQL) and then slips the way real ones do: a missed invoice, a manual edit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl

from lake.schemas import REFERENCE_SCHEMAS
from transforms.credits import CreditBook, Grant, Invoice, total_after_credits
from transforms.pricebook import PriceBook
from transforms.rating import month_bounds, rate_period


def billed_invoices(
    daily: pl.DataFrame,
    subs: pl.DataFrame,
    customers: pl.DataFrame,
    book: PriceBook,
    grants: pl.DataFrame,
    *,
    start: dt.date,
    end: dt.date,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """What the billing system of record billed for the complete months of [start, end):
    correct rating and credits, with a few deliberate slips.

    Rated from `daily`, the events' `usage_groups` (one row per customer, day, metric, status
    and properties, with what each aggregation needs), not per event."""
    months, m = [], start.replace(day=1)
    while m < end:
        months.append(m)
        m = month_bounds(m)[1]
    ccy = dict(customers.select("customer_id", "currency").iter_rows())
    invoices = []
    rate_at_end: dict[tuple[str, dt.date], tuple[dt.date, Decimal | None]] = {}
    for month in months:
        p_start, p_end = month_bounds(month)
        if p_end > end:  # only complete months were billed
            continue
        for r in rate_period(book, p_start, daily, subs):
            key = (r.segment.customer_id, p_start)
            if key not in rate_at_end or rate_at_end[key][0] < r.segment.start:  # at period end
                rate_at_end[key] = (r.segment.start, r.segment.plan.credit_rate)
            invoices.append((r.segment.customer_id, p_start, r.amount))
    df = pl.DataFrame(
        invoices,
        schema={"customer_id": pl.String, "period_start": pl.Date, "subtotal": pl.Object},
        orient="row",
    )
    totals: dict[tuple[str, dt.date], Decimal] = {}
    for cid, p, amount in df.iter_rows():
        totals[(cid, p)] = totals.get((cid, p), Decimal(0)) + amount
    book = CreditBook(
        Grant(
            g["grant_id"],
            g["customer_id"],
            g["granted_at"],
            Decimal(g["credits"]),
            g["kind"],
            Decimal(g["purchase_amount"]),
            g["expires_at"],
            g["priority"],
        )
        for g in grants.iter_rows(named=True)
    )
    rows = []
    for (cid, p), subtotal in sorted(totals.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        invoice = Invoice(
            cid, cid, p, month_bounds(p)[1], ccy[cid], subtotal, rate_at_end[(cid, p)][1]
        )
        credits, total = total_after_credits(invoice, book.close(invoice))
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
