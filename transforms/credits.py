"""Prepaid credits: which grants pay an invoice at close, the ledger, and revenue.

Pure Decimal logic. Month close uses `CreditBook` to apply credits to the invoices it issues
and freezes the result; the warehouse builds the ledger and revenue marts from what was frozen.

Rules, in one place:
- A grant may pay period P if granted_at < P.end and (no expiry or expires_at >= P.end).
- Burn order: priority asc, expires_at asc (never-expiring last), promotional before
  purchased, granted_at asc, grant_id asc.
- An invoice is paid item by item (transforms/items.py; an item's due is its amount plus its
  tax). A grant may pay the items its `applies_to` names (empty: every item; `base_fee`;
  `usage`: every charge item and the plan commitment; `charge:<charge_id>`). In burn order,
  each grant pays the items it may pay, the one that still owes most first (ties: item order),
  each draw min(what the item still owes, the money the grant still holds, what the invoice
  still owes); a grant holds its balance * credit_rate rounded half-up to minor units. Paying
  the largest item first leaves the smaller, specific items to the grants limited to them.
- Per grant, credits drawn = its money drawn / credit_rate (9 decimals, half-up), never more
  than the balance. When the whole balance's money value is drawn, the whole balance is.
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
class Invoice:
    invoice_id: str
    customer_id: str
    period_start: dt.date
    period_end: dt.date  # exclusive
    currency: str
    subtotal: Decimal
    credit_rate: Decimal | None  # None: the plan takes no credits
    tax: Decimal = ZERO  # credits pay the subtotal plus tax; they never lower the tax
    # (item, due) in item order; none given: the invoice is one item, `invoice`, that only a
    # grant which may pay anything pays
    items: tuple[tuple[str, Decimal], ...] = ()

    def dues(self) -> dict[str, Decimal]:
        return dict(self.items) if self.items else {"invoice": self.subtotal + self.tax}


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
    paid: tuple[tuple[str, Decimal], ...] = ()  # (item, money) the draw paid, in draw order


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
        owed = invoice.dues()
        order = {item: n for n, item in enumerate(owed)}
        entries = []
        for grant in live:
            if due <= 0:
                break
            balance = self.balance[grant.grant_id]
            value = round_money(balance * rate, currency)
            holds, paid = value, []
            payable = [i for i in owed if owed[i] > 0 and grant.may_pay(i)]
            for item in sorted(payable, key=lambda i: (-owed[i], order[i])):
                draw = min(owed[item], holds, due)
                if draw <= 0:
                    break
                owed[item] -= draw
                holds -= draw
                due -= draw
                paid.append((item, draw))
            money = value - holds
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
                    paid=tuple(paid),
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
