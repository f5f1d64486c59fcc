"""Month close, the rules: when a month may be closed, and credits applied to its invoices in
burn order.

`why_not_close` is the close rule the CLI and the close asset (so a scheduled close too) share:
they refuse a month for the same reasons, with the same words. It asks what it needs of the
home through `ClosingHome` (warehouse.closing answers from the lake and the warehouse), in an
order where the cheap questions come first.

Given the grants, the consumption frozen by earlier closes and the month's computed invoices,
`apply_credits` returns the invoices with credits applied, their items with what credits paid
of each, the consumption, the top-ups made, and the rollovers and expiries of grants once the month is closed,
to freeze with them. Writing the issued store is `lake.issued`'s job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import polars as pl
from dateutil.relativedelta import relativedelta

from transforms.credits import (
    Consumption,
    CreditBook,
    Invoice,
    Rollover,
    total_after_credits,
)
from transforms.grants import Grant
from transforms.numbers import AMOUNT
from transforms.topups import TopUp, TopUpRule


@dataclass(frozen=True)
class Refusal:
    """Why a month cannot be closed now. `blocking_findings` tells a failed check (a person
    must look at the findings) from a state to fix first (run, wait, close another month)."""

    reason: str
    blocking_findings: bool = False


class ClosingHome(Protocol):
    """What the close rule asks of a home, each when it gets that far."""

    def missing_warehouse(self) -> str | None:
        """Where the warehouse should be, when it has not been built; None when it has."""

    def unissued_months_before(self, month: dt.date) -> list[dt.date]:
        """Earlier periods with invoices that were never closed, oldest first."""

    def why_stale(self) -> str | None:
        """Why the marts do not reflect the home as it is now; None when they do."""

    def edited_landing_file(self, month: dt.date) -> str | None:
        """A landing file of the month's batches whose content is not what was ingested."""

    def blocking_findings(self, month: dt.date) -> dict[str, int]:
        """Error findings of the month, an earlier one, or none: check name -> count."""


def closing_month(period_end: dt.date) -> dt.date:
    """The month whose close issues an invoice for a period ending `period_end` (exclusive):
    the month of the period's last day."""
    return (period_end - dt.timedelta(days=1)).replace(day=1)


def why_not_close(home: ClosingHome, month: dt.date, today: dt.date) -> Refusal | None:
    """Why `month` (not yet issued) cannot be closed on `today`, or None if it can: the month
    is over, earlier months are closed, the marts are fresh, the landing files of its batches
    are as they were ingested, and no blocking finding stands."""
    missing = home.missing_warehouse()
    if missing:
        return Refusal(f"no warehouse at {missing}: run `tally run` before closing a month")
    month_end = (month + dt.timedelta(days=32)).replace(day=1)
    if today < month_end:
        return Refusal(f"{month:%Y-%m} is not over yet (it ends {month_end}); close it after that")
    earlier = home.unissued_months_before(month)
    if earlier:
        return Refusal(
            f"close {earlier[0]:%Y-%m} first: months close in order, because credits left "
            "after one month pay the next"
        )
    stale = home.why_stale()
    if stale:
        return Refusal(
            f"not closing {month:%Y-%m}: the marts are out of date: {stale}; "
            "run `tally run` first, then close"
        )
    edited = home.edited_landing_file(month)
    if edited:
        return Refusal(f"not closing {month:%Y-%m}: {edited}")
    blocking = home.blocking_findings(month)
    if blocking:
        listed = ", ".join(f"{name} x{n}" for name, n in blocking.items())
        return Refusal(
            f"not closing {month:%Y-%m}: {sum(blocking.values())} blocking finding(s) "
            f"({listed}); see marts.fct_billing_mismatches where severity = 'error'",
            blocking_findings=True,
        )
    return None


def audit_refusal(month: dt.date, audit_findings: dict[str, int]) -> Refusal | None:
    """Why the full audit of the lake (built by month close just before issuing) refuses the
    close of `month`, or None when it found nothing. `audit_findings`: check name -> count."""
    if not audit_findings:
        return None
    found = ", ".join(f"{name} ({n})" for name, n in sorted(audit_findings.items()))
    return Refusal(
        f"{month:%Y-%m} not closed: the full audit of the lake found {found}; "
        'see `tally query "select * from audit.audit_lake"`',
        blocking_findings=True,
    )


@dataclass(frozen=True)
class CloseResult:
    month: dt.date
    invoices: int
    total: Decimal
    already_issued: bool
    credits_applied: Decimal = Decimal(0)


@dataclass(frozen=True)
class Applied:
    """What close applies to a month: the invoices with credits_applied and total, their items
    with what credits paid of each (when given), the consumption drawn in burn order, the
    rollovers and expiries once the month is closed, and the top-ups made while applying."""

    invoices: pl.DataFrame
    items: pl.DataFrame | None
    consumption: list[Consumption]
    rollovers: list[Rollover]
    topups: list[TopUp] = ()


def apply_credits(
    grants: list[Grant],
    month: dt.date,
    invoices: pl.DataFrame,
    *,
    currency_of: Mapping[str, str],
    items: pl.DataFrame | None = None,
    earlier: list[Consumption] = (),
    earlier_rollovers: list[Rollover] = (),
    topup_rules: list[TopUpRule] = (),
) -> Applied:
    """Credits applied at close. `earlier` and `earlier_rollovers` are what the closes of
    earlier months froze (with the top-ups they made among `grants`); `currency_of` is each
    customer's currency. Without items each invoice is one item that only grants for anything
    pay."""
    book = CreditBook(grants, topup_rules)
    book.replay(earlier, earlier_rollovers)
    dues: dict[str, list[tuple[str, Decimal]]] = {}
    if items is not None:
        for r in items.sort("invoice_id", "item_order").iter_rows(named=True):
            dues.setdefault(r["invoice_id"], []).append((r["item"], r["due"]))
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
            r.get("tax") or Decimal(0),
            tuple(dues.get(r["invoice_id"], ())),
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
    if items is not None:
        paid: dict[tuple[str, str], Decimal] = {}
        for e in entries:
            for item, money in e.paid:
                key = (e.invoice_id, item)
                paid[key] = paid.get(key, Decimal(0)) + money
        items = items.with_columns(
            pl.Series(
                "credits_applied",
                [
                    paid.get(k, Decimal(0))
                    for k in zip(items["invoice_id"], items["item"], strict=True)
                ],
                dtype=AMOUNT.dtype,
            )
        )
    period_end = month.replace(day=1) + relativedelta(months=1)
    rollovers = book.settle(period_end, currency_of)
    return Applied(invoices, items, entries, rollovers, book.topups)
