"""An invoice seen as items: what discounts, tax and credits work on.

The items, in order: `base_fee` (every base-fee line), one `charge:<charge_id>` per charge (its
usage lines of every group and segment, its minimum true-up and spend cap), `commitment` (the
plan's minimum true-ups), then one `adjustment:<key>` per carried adjustment. Two kinds of
negative line belong to no item and are allocated over items instead, so that no item is
negative:

- the plan's spend caps, over the charge items (a plan cap is measured on those lines, so it
  never exceeds them);
- negative carried adjustments, over the positive ones. When the negative ones outweigh the
  positive ones, the positive ones are allocated over them instead: what is left stays on the
  negative adjustments, as a credit note the invoice cannot absorb.

Allocation: each item's exact share `A * w_i / sum(w)` (weights = the items' amounts) is cut
toward zero to minor units, and the minor units still missing go one each to the items with
the largest cut-off remainders, ties to the earlier item. The shares add up to `A` exactly.

Tax, per item: `round(amount * rate)` to minor units, 0 for an item whose amount is not
positive and on an invoice whose items add up to less than 0 (it owes the customer). An item's
rate is its lines' (the highest, where a charge's lines of two plans of one month differ).

The warehouse computes the same in `fct_invoice_items`; tests hold it to this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from transforms.money import minor_units, round_money

ZERO = Decimal(0)


@dataclass(frozen=True)
class InvoiceLine:
    line_type: str
    charge_id: str | None
    amount: Decimal
    tax_rate: Decimal = ZERO


@dataclass(frozen=True)
class Item:
    item: str
    item_order: int
    amount: Decimal
    tax_rate: Decimal = ZERO
    tax: Decimal = ZERO

    @property
    def due(self) -> Decimal:
        return self.amount + self.tax


def allocate(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `amount` over items in proportion to non-negative `weights` (not all zero), in
    whole minor units of `currency`, by largest remainder, ties to the earlier item."""
    unit = Decimal(1).scaleb(-minor_units(currency))
    units = int(abs(amount) / unit)
    whole = [int(w / unit) for w in weights]
    total = sum(whole)
    if units * unit != abs(amount) or any(w < 0 for w in whole) or total <= 0:
        raise ValueError(f"cannot allocate {amount} over {list(weights)} in {currency}")
    cut = [units * w // total for w in whole]
    remainders = [units * w - c * total for w, c in zip(whole, cut, strict=True)]
    missing = units - sum(cut)
    favoured = sorted(range(len(whole)), key=lambda i: (-remainders[i], i))[:missing]
    sign = -1 if amount < 0 else 1
    return [sign * (c + (i in favoured)) * unit for i, c in enumerate(cut)]


def _item(line: InvoiceLine) -> tuple[int, str]:
    """(kind rank, item name) of a line that forms an item."""
    if line.line_type == "base_fee":
        return 0, "base_fee"
    if line.line_type == "adjustment":
        return 3, f"adjustment:{line.charge_id}"
    if line.charge_id is None:
        return 2, "commitment"
    return 1, f"charge:{line.charge_id}"


def invoice_items(lines: Iterable[InvoiceLine], currency: str) -> list[Item]:
    """The items of one invoice from its lines, negative lines allocated as the module says."""
    own: dict[tuple[int, str], Decimal] = {}
    plan_caps = ZERO
    credit_notes: dict[tuple[int, str], Decimal] = {}
    rates: dict[tuple[int, str], Decimal] = {}
    for line in lines:
        if line.line_type == "spend_cap" and line.charge_id is None:
            plan_caps += line.amount
            continue
        key = _item(line)
        rates[key] = max(rates.get(key, ZERO), line.tax_rate)
        target = credit_notes if line.line_type == "adjustment" and line.amount < 0 else own
        target[key] = target.get(key, ZERO) + line.amount

    def spread(
        amount: Decimal, onto: dict[tuple[int, str], Decimal]
    ) -> dict[tuple[int, str], Decimal]:
        keys = sorted(onto)
        shares = allocate(amount, [abs(onto[k]) for k in keys], currency)
        return {key: onto[key] + share for key, share in zip(keys, shares, strict=True)}

    if plan_caps:
        own |= spread(plan_caps, {k: v for k, v in own.items() if k[0] == 1})
    if credit_notes:
        debits = {k: v for k, v in own.items() if k[0] == 3}
        if sum(debits.values(), ZERO) + sum(credit_notes.values(), ZERO) >= 0:
            own |= spread(sum(credit_notes.values(), ZERO), debits)
        else:
            for key in debits:
                del own[key]
            owed = sum(debits.values(), ZERO)
            own |= spread(owed, credit_notes) if owed else credit_notes
    return taxed(
        [
            Item(name, order, own[(rank, name)], rates[(rank, name)])
            for order, (rank, name) in enumerate(sorted(own), 1)
        ],
        currency,
    )


def taxed(items: Sequence[Item], currency: str) -> list[Item]:
    """The items with their tax, as the module says: each rounded on its own, none on an item
    that is not positive or on an invoice that owes the customer."""
    owes_customer = sum((i.amount for i in items), ZERO) < 0

    def tax(item: Item) -> Decimal:
        if owes_customer or item.amount <= 0:
            return ZERO
        return round_money(item.amount * item.tax_rate, currency)

    return [replace(i, tax=tax(i)) for i in items]
