"""Prepaid credits: which grants pay an invoice at close, the ledger, and revenue.

Pure Decimal logic. Month close uses `CreditBook` to apply credits to the invoices it issues
and freezes the result; the warehouse builds the ledger and revenue marts from what was frozen.

Rules, in one place:
- A grant may pay period P if granted_at < P.end and (no expiry or expires_at >= P.end).
- Burn order: priority asc, expires_at asc (never-expiring last), promotional before
  purchased, granted_at asc, grant_id asc.
- Per grant, money applied = min(balance * credit_rate rounded half-up to minor units, what is
  still due); credits drawn = money / credit_rate (9 decimals, half-up), never more than the
  balance. When the whole balance's money value is applied, the whole balance is drawn.
- Purchased credits carry a cost basis (purchase_amount / credits per credit). Consuming them
  recognizes revenue at that basis, rounded per entry and never beyond what is still deferred;
  the entry that empties a grant, or its expiry (breakage), recognizes exactly the rest, so a
  grant's revenue always adds up to its purchase_amount. Promotional credits are a discount.
- Credits pay an invoice's subtotal plus tax, the subtotal first: what they pay beyond the
  subtotal paid tax. Each entry's tax share is that amount allocated over the entries by their
  money (`transforms.items.allocate`). Tax is not revenue: a purchased entry's tax share moves
  its deferred revenue to tax payable (`deferred_to_tax`, the entry's cost basis in proportion),
  a promotional entry's is a tax expense (`tax_money`) rather than a discount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from transforms.items import allocate
from transforms.money import round_money

ZERO = Decimal(0)
CREDIT_EXPONENT = Decimal("0.000000001")  # credits are kept to 9 decimals


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
class Invoice:
    invoice_id: str
    customer_id: str
    period_start: dt.date
    period_end: dt.date  # exclusive
    currency: str
    subtotal: Decimal
    credit_rate: Decimal | None  # None: the plan takes no credits
    tax: Decimal = ZERO  # credits pay the subtotal plus tax; they never lower the tax


@dataclass(frozen=True)
class Consumption:
    """Credits of one grant applied to one invoice at close."""

    grant_id: str
    customer_id: str
    invoice_id: str
    entry_date: dt.date  # the last day of the period
    credits: Decimal  # drawn, positive
    money: Decimal  # applied to the invoice
    revenue: Decimal  # recognized at cost basis (purchased grants), else 0
    discount: Decimal  # money applied from promotional grants, else 0 (the service share)
    tax_money: Decimal = ZERO  # the part of money that paid tax
    deferred_to_tax: Decimal = ZERO  # purchased: cost basis moved to tax payable, not revenue


class CreditBook:
    """Balances of every grant; close months in order with `close`. A grant past its expiry
    pays nothing (`Grant.can_pay`); its breakage is recognized by the revenue marts."""

    def __init__(self, grants: Iterable[Grant]):
        self.grants = {g.grant_id: g for g in grants}
        self.balance = {g.grant_id: g.credits for g in self.grants.values()}
        self.recognized = dict.fromkeys(self.grants, ZERO)

    def deferred(self, grant_id: str) -> Decimal:
        """Purchase money of a grant not yet recognized as revenue."""
        grant = self.grants[grant_id]
        if grant.kind != "purchased":
            return ZERO
        return grant.purchase_amount - self.recognized[grant_id]

    def replay(self, consumption: Iterable[Consumption]) -> None:
        """Apply consumption frozen by earlier closes."""
        for c in consumption:
            self.balance[c.grant_id] -= c.credits
            self.recognized[c.grant_id] += c.revenue + c.deferred_to_tax

    def close(self, invoice: Invoice) -> list[Consumption]:
        """Apply credits to one invoice in burn order; returns one entry per grant drawn."""
        if invoice.credit_rate is None or invoice.credit_rate <= 0:
            return []
        rate, currency = invoice.credit_rate, invoice.currency
        due = invoice.subtotal + invoice.tax
        live = sorted(
            (
                g
                for g in self.grants.values()
                if g.customer_id == invoice.customer_id
                and g.can_pay(invoice.period_end)
                and self.balance[g.grant_id] > 0
            ),
            key=lambda g: g.burn_key,
        )
        entries = []
        for grant in live:
            if due <= 0:
                break
            balance = self.balance[grant.grant_id]
            value = round_money(balance * rate, currency)
            money = min(value, due)
            if money <= 0:
                continue
            if money == value:  # the whole balance pays
                credits = balance
            else:
                credits = min((money / rate).quantize(CREDIT_EXPONENT, ROUND_HALF_UP), balance)
            revenue = ZERO
            if grant.kind == "purchased":
                deferred = self.deferred(grant.grant_id)
                if credits == balance:
                    revenue = deferred
                else:
                    basis = credits * grant.purchase_amount / grant.credits
                    revenue = min(round_money(basis, currency), deferred)
            self.balance[grant.grant_id] -= credits
            self.recognized[grant.grant_id] += revenue
            due -= money
            entries.append(
                Consumption(
                    grant_id=grant.grant_id,
                    customer_id=grant.customer_id,
                    invoice_id=invoice.invoice_id,
                    entry_date=invoice.period_end - dt.timedelta(days=1),
                    credits=credits,
                    money=money,
                    revenue=revenue,
                    discount=money if grant.kind == "promotional" else ZERO,
                )
            )
        return self._split_tax(invoice, entries)

    def _split_tax(self, invoice: Invoice, entries: list[Consumption]) -> list[Consumption]:
        """The entries with what they paid of the invoice's tax apart from what they paid of
        its subtotal (see the module's rules)."""
        to_tax = sum((e.money for e in entries), ZERO) - max(invoice.subtotal, ZERO)
        if to_tax <= 0:
            return entries
        shares = allocate(to_tax, [e.money for e in entries], invoice.currency)
        split = []
        for entry, tax_money in zip(entries, shares, strict=True):
            service = entry.money - tax_money
            revenue = entry.revenue
            if revenue and entry.money:
                revenue = round_money(entry.revenue * service / entry.money, invoice.currency)
            split.append(
                replace(
                    entry,
                    revenue=revenue,
                    discount=service if entry.discount else ZERO,
                    tax_money=tax_money,
                    deferred_to_tax=entry.revenue - revenue,
                )
            )
        return split


def total_after_credits(
    invoice: Invoice, entries: Iterable[Consumption]
) -> tuple[Decimal, Decimal]:
    """(credits_applied, total) of an invoice: total = subtotal + tax - credits, never
    negative."""
    applied = sum((e.money for e in entries), ZERO)
    return applied, max(invoice.subtotal + invoice.tax - applied, ZERO)
