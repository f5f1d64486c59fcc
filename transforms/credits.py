"""Prepaid credits: which grants pay an invoice at close, the ledger, and revenue.

Pure Decimal logic. Month close uses `CreditBook` to apply credits to the invoices it issues
and freezes the result; the warehouse builds the ledger and revenue marts from what was frozen.

Rules, in one place:
- A grant (transforms/grants.py) may pay period P if granted_at < P.end and (no expiry or
  expires_at >= P.end).
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
- Instances of recurring grants and plans' allocations (transforms/grants.py): once every
  period an instance could pay is closed (`CreditBook.settle`), min(its balance,
  rollover_cap) rolls into the next instance and the rest expires, dated the next start;
  carried credits keep their cost basis (the row's, equal for every instance). A one-off
  grant with a rollover_cap keeps at most that many credits after each period it could pay:
  the rest expires, dated the period's last day.
- Credits pay an invoice's subtotal plus tax, the subtotal first: what they pay beyond the
  subtotal paid tax. Each entry's tax share is that amount allocated over the entries by their
  money (`transforms.items.allocate`). Tax is not revenue: a purchased entry's tax share moves
  its deferred revenue to tax payable (`deferred_to_tax`, the entry's cost basis in proportion),
  a promotional entry's is a tax expense (`tax_money`) rather than a discount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from transforms.grants import CREDIT_EXPONENT, Grant
from transforms.items import allocate
from transforms.money import ceil_money, round_money
from transforms.topups import TopUp, TopUpRule, rule_in_force

ZERO = Decimal(0)


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


@dataclass(frozen=True)
class Rollover:
    """A grant's balance once every period it could pay is closed: the credits carried into
    the next instance of its row and the credits that expire, with the deferred revenue each
    takes (purchased grants: `moved` goes with the carried credits, `breakage` is
    recognized)."""

    grant_id: str
    customer_id: str
    entry_date: dt.date
    to_grant_id: str | None  # the next instance; None when nothing can carry
    carried: Decimal
    expired: Decimal
    moved: Decimal = ZERO
    breakage: Decimal = ZERO


class CreditBook:
    """Balances of every grant; close months in order with `close`, then `settle` each closed
    period. A grant past its expiry pays nothing (`Grant.can_pay`); the breakage of a grant
    without a rollover_cap is recognized by the revenue marts. A recurring row's instances
    join the book as the periods they start in are closed."""

    def __init__(self, grants: Iterable[Grant], topup_rules: Iterable[TopUpRule] = ()):
        grants = list(grants)
        self.topup_rules = list(topup_rules)
        self.made: dict[tuple[str, dt.date], int] = {}  # top-ups per rule and period
        self.topups: list[TopUp] = []  # made by this book's closes
        self.grants: dict[str, Grant] = {}
        self.rows = [g for g in grants if g.recurrence]
        self.balance: dict[str, Decimal] = {}
        self.recognized: dict[str, Decimal] = {}  # revenue recognized, or moved or broken
        self.moved_in: dict[str, Decimal] = {}  # deferred revenue carried in by a rollover
        self.settled: set[str] = set()  # instances whose rollover is recorded
        for grant in grants:
            if not grant.recurrence:
                self._add(grant)

    def _add(self, grant: Grant) -> None:
        self.grants[grant.grant_id] = grant
        self.balance[grant.grant_id] = grant.credits
        self.recognized[grant.grant_id] = ZERO
        self.moved_in[grant.grant_id] = ZERO

    def _instances_before(self, day: dt.date) -> None:
        for row in self.rows:
            for instance in row.instances(before=day):
                if instance.grant_id not in self.grants:
                    self._add(instance)

    def deferred(self, grant_id: str) -> Decimal:
        """Purchase money of a grant not yet recognized as revenue."""
        grant = self.grants[grant_id]
        if grant.kind != "purchased":
            return ZERO
        return grant.purchase_amount + self.moved_in[grant_id] - self.recognized[grant_id]

    def replay(
        self, consumption: Iterable[Consumption], rollovers: Iterable[Rollover] = ()
    ) -> None:
        """Apply consumption and rollovers frozen by earlier closes."""
        for c in consumption:
            self._instances_before(c.entry_date + dt.timedelta(days=1))
            self.balance[c.grant_id] -= c.credits
            self.recognized[c.grant_id] += c.revenue + c.deferred_to_tax
        for r in rollovers:
            self._instances_before(r.entry_date + dt.timedelta(days=1))
            self._apply(r)

    def _apply(self, r: Rollover) -> None:
        self.balance[r.grant_id] -= r.carried + r.expired
        self.recognized[r.grant_id] += r.moved + r.breakage
        if self.grants[r.grant_id].instance_of:
            self.settled.add(r.grant_id)
        if r.to_grant_id:
            self.balance[r.to_grant_id] += r.carried
            self.moved_in[r.to_grant_id] += r.moved

    def _basis(self, grant: Grant, credits: Decimal, currency: str) -> Decimal:
        """Deferred revenue that goes with `credits` of a purchased grant's balance: its cost
        basis, all that is deferred when they are the whole balance."""
        deferred = self.deferred(grant.grant_id)
        if grant.kind != "purchased" or not credits:
            return ZERO
        if credits == self.balance[grant.grant_id]:
            return deferred
        basis = credits * grant.purchase_amount / grant.credits
        return min(round_money(basis, currency), deferred)

    def _next_instance(self, grant: Grant) -> str | None:
        """The instance a settled instance's rollover goes into: its row's next, or the
        allocation of the subscription's next period; None when there is none."""
        row = next((r for r in self.rows if r.grant_id == grant.instance_of), None)
        if row is None:
            after = f"{grant.instance_of}@{grant.expires_at.isoformat()}"
            return after if after in self.grants else None
        later = row.instances(before=grant.expires_at + dt.timedelta(days=1))
        if not later or later[-1].granted_at != grant.expires_at:
            return None
        if later[-1].grant_id not in self.grants:
            self._add(later[-1])
        return later[-1].grant_id

    def settle(self, period_end: dt.date, currency_of: Mapping[str, str]) -> list[Rollover]:
        """Rollovers and expiries once the monthly period ending `period_end` (exclusive) and
        every one before it are closed: each instance whose last payable period it was carries
        min(balance, rollover_cap) into the next instance of its row and lets the rest expire,
        dated its expiry (the next start); a one-off grant with a rollover_cap that could pay
        the period lets its balance above the cap expire, dated the period's last day.
        `currency_of` (customer -> currency) rounds the deferred revenue that moves."""
        self._instances_before(period_end)
        entries = []
        for grant in sorted(self.grants.values(), key=lambda g: g.grant_id):
            balance = self.balance[grant.grant_id]
            if grant.instance_of:
                last_payable = grant.expires_at.replace(day=1)
                if grant.grant_id in self.settled or last_payable > period_end:
                    continue
                after = self._next_instance(grant)
                carried = min(balance, grant.rollover_cap) if after else ZERO
                expired = balance - carried
                moved = self._basis(grant, carried, currency_of[grant.customer_id])
                entry = Rollover(
                    grant.grant_id,
                    grant.customer_id,
                    grant.expires_at,
                    after,
                    carried,
                    expired,
                    moved,
                    self.deferred(grant.grant_id) - moved,
                )
            elif grant.rollover_cap is not None and grant.can_pay(period_end):
                expired = max(balance - grant.rollover_cap, ZERO)
                if not expired:
                    continue
                entry = Rollover(
                    grant.grant_id,
                    grant.customer_id,
                    period_end - dt.timedelta(days=1),
                    None,
                    ZERO,
                    expired,
                    ZERO,
                    self._basis(grant, expired, currency_of[grant.customer_id]),
                )
            else:
                continue
            self._apply(entry)
            entries.append(entry)
        return entries

    def close(self, invoice: Invoice) -> list[Consumption]:
        """Apply credits to one invoice in burn order, making the top-ups of the customer's
        rule as the balance reaches its threshold (transforms/topups.py, `self.topups`);
        returns one entry per grant drawn, in the order of their first draw."""
        if invoice.credit_rate is None or invoice.credit_rate <= 0:
            return []
        rate, currency = invoice.credit_rate, invoice.currency
        due = invoice.subtotal + invoice.tax
        self._instances_before(invoice.period_end)
        rule = rule_in_force(self.topup_rules, invoice.customer_id, invoice.period_end)
        owed = invoice.dues()
        order = {item: n for n, item in enumerate(owed)}
        opening: dict[str, Decimal] = {}  # balance before the invoice, per grant drawn
        drawn: dict[str, tuple[Decimal, Decimal, list]] = {}  # grant -> credits, money, paid
        done: set[str] = set()  # grants that drew all they could
        self._top_up(rule, invoice)
        while due > 0:
            live = self._live(invoice)
            grant = next((g for g in live if g.grant_id not in done), None)
            if grant is None:
                break
            balance = self.balance[grant.grant_id]
            value = round_money(balance * rate, currency)
            room = self._room(rule, invoice)  # money until the balance reaches the threshold
            holds = value if room is None else min(value, room)
            cap, paid = holds, []
            payable = [i for i in owed if owed[i] > 0 and grant.may_pay(i)]
            for item in sorted(payable, key=lambda i: (-owed[i], order[i])):
                draw = min(owed[item], holds, due)
                if draw <= 0:
                    break
                owed[item] -= draw
                holds -= draw
                due -= draw
                paid.append((item, draw))
            money = cap - holds
            if money < cap or cap == value:  # it drew all it could, not stopped at the threshold
                done.add(grant.grant_id)
            if money <= 0:
                continue
            if money == value:  # the whole balance pays
                credits = balance
            else:
                credits = min((money / rate).quantize(CREDIT_EXPONENT, ROUND_HALF_UP), balance)
            opening.setdefault(grant.grant_id, balance)
            before = drawn.get(grant.grant_id, (ZERO, ZERO, []))
            drawn[grant.grant_id] = (before[0] + credits, before[1] + money, before[2] + paid)
            self.balance[grant.grant_id] -= credits
            self._top_up(rule, invoice)
        entries = [self._consume(self.grants[g], invoice, opening[g], *drawn[g]) for g in drawn]
        return self._split_tax(invoice, entries)

    def _live(self, invoice: Invoice) -> list[Grant]:
        """The customer's grants that may pay the invoice's period and hold credits, in burn
        order."""
        return sorted(
            (
                g
                for g in self.grants.values()
                if g.customer_id == invoice.customer_id
                and g.can_pay(invoice.period_end)
                and self.balance[g.grant_id] > 0
            ),
            key=lambda g: g.burn_key,
        )

    def _balance(self, invoice: Invoice) -> Decimal:
        return sum((self.balance[g.grant_id] for g in self._live(invoice)), ZERO)

    def _can_top_up(self, rule: TopUpRule | None, invoice: Invoice) -> bool:
        made = self.made.get((rule.topup_id, invoice.period_start), 0) if rule else 0
        return rule is not None and made < rule.max_per_period

    def _room(self, rule: TopUpRule | None, invoice: Invoice) -> Decimal | None:
        """Money a draw may take before the balance reaches the rule's threshold, rounded up to
        minor units; None when no top-up can follow."""
        if not self._can_top_up(rule, invoice):
            return None
        above = self._balance(invoice) - rule.threshold_credits
        return ceil_money(above * invoice.credit_rate, invoice.currency)

    def _top_up(self, rule: TopUpRule | None, invoice: Invoice) -> None:
        """Make the rule's top-ups while the balance is at or below its threshold."""
        while self._can_top_up(rule, invoice):
            balance = self._balance(invoice)
            if balance > rule.threshold_credits:
                return
            key = (rule.topup_id, invoice.period_start)
            self.made[key] = self.made.get(key, 0) + 1
            topup = rule.top_up(
                invoice.period_start, invoice.period_end, self.made[key], balance, invoice.currency
            )
            self.topups.append(topup)
            self._add(topup.grant)

    def _consume(
        self,
        grant: Grant,
        invoice: Invoice,
        opening: Decimal,
        credits: Decimal,
        money: Decimal,
        paid: list[tuple[str, Decimal]],
    ) -> Consumption:
        """A grant's draws on an invoice as one entry, revenue recognized at its cost basis
        (all that is deferred when the draws empty it)."""
        revenue = ZERO
        if grant.kind == "purchased":
            deferred = self.deferred(grant.grant_id)
            if credits == opening:
                revenue = deferred
            else:
                basis = credits * grant.purchase_amount / grant.credits
                revenue = min(round_money(basis, invoice.currency), deferred)
        self.recognized[grant.grant_id] += revenue
        merged: dict[str, Decimal] = {}
        for item, draw in paid:
            merged[item] = merged.get(item, ZERO) + draw
        return Consumption(
            grant_id=grant.grant_id,
            customer_id=grant.customer_id,
            invoice_id=invoice.invoice_id,
            entry_date=invoice.period_end - dt.timedelta(days=1),
            credits=credits,
            money=money,
            revenue=revenue,
            discount=money if grant.kind == "promotional" else ZERO,
            paid=tuple(merged.items()),
        )

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
