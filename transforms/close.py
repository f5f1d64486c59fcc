"""Month close, the pure part: credits applied to a month's invoices in burn order (SPEC 3).

Given the grants, the consumption frozen by earlier closes and the month's computed invoices,
`apply_credits` returns the invoices with credits applied and the consumption to freeze with
them. Writing the issued store is `lake.issued`'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from transforms.credits import Consumption, CreditBook, Grant, Invoice, total_after_credits
from transforms.numbers import AMOUNT


@dataclass(frozen=True)
class CloseResult:
    month: dt.date
    invoices: int
    total: Decimal
    already_issued: bool
    credits_applied: Decimal = Decimal(0)


def apply_credits(
    grants: list[Grant], earlier: list[Consumption], month: dt.date, invoices: pl.DataFrame
) -> tuple[pl.DataFrame, list[Consumption]]:
    """Credits applied at close: invoices with credits_applied and total, and the consumption
    entries drawn, in burn order.
    `earlier` is the consumption frozen by the closes of earlier months."""
    book = CreditBook(grants)
    book.replay(earlier)
    applied, totals, entries = [], [], []
    for r in invoices.sort("invoice_id").iter_rows(named=True):
        invoice = Invoice(
            r["invoice_id"],
            r["customer_id"],
            r["period_start"],
            r["period_end"],
            r["currency"],
            r["subtotal"],
            r.get("credit_rate"),
        )
        used = book.close(invoice)
        credits, total = total_after_credits(invoice, used)
        applied.append(credits)
        totals.append(total)
        entries += used
    invoices = invoices.sort("invoice_id").with_columns(
        pl.Series("credits_applied", applied, dtype=AMOUNT.dtype),
        pl.Series("total", totals, dtype=AMOUNT.dtype),
    )
    return invoices, entries
