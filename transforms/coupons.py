"""Coupons: their terms in the price book, and what they take off an invoice.

```yaml
coupons:                        # top level of a price book file, beside plans
  - coupon_id: launch10
    kind: percentage            # percentage | amount
    percent: "0.10"             # a fraction, like a rate
    duration_months: 3          # absent: forever; 1: once
    applies_to: [usage]         # base_fee | usage | charge:<charge_id>; absent: every item
  - coupon_id: welcome50
    kind: amount
    amount: "50.00"
    currency: USD
    duration_months: 1
```

Who redeemed which coupon is reference data (`coupon_redemptions.csv`). The rules, in one place:
- A redemption applies to the invoice of the period containing `redeemed_on` and of every later
  period starting before that period's start + `duration_months` months.
- Order: coupons limited to `charge:` entries only first, then other limited ones, then
  unlimited ones; then `redeemed_on`, then `redemption_id`.
- Each works on what its eligible items still hold after the coupons before it: a percentage
  takes `round(remaining * percent)`, an amount `min(amount, remaining)` (the rest of it is
  forfeited). The discount is one line, allocated over its eligible items by what they still
  hold (`transforms.items.allocate`).
- Eligible: `base_fee` the base-fee item, `usage` every charge item and the plan commitment,
  `charge:<id>` that charge's item; carried adjustments never.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from transforms.book_fields import PriceBookError, Where, no_unknown_keys, read_decimal, take
from transforms.items import Item, allocate, taxed
from transforms.money import is_currency, round_money
from transforms.numbers import FEE, INT32_MAX, PRICE

KINDS = ("percentage", "amount")
_KEYS = {
    "percentage": {"coupon_id", "kind", "percent", "duration_months", "applies_to", "description"},
    "amount": {
        "coupon_id",
        "kind",
        "amount",
        "currency",
        "duration_months",
        "applies_to",
        "description",
    },
}
ZERO = Decimal(0)


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    kind: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None
    duration_months: int | None = None  # None: forever
    applies_to: tuple[str, ...] | None = None  # None: every item but carried adjustments
    source_file: str = ""

    @property
    def order_class(self) -> int:
        """0: limited to charges; 1: limited otherwise; 2: unlimited."""
        if self.applies_to is None:
            return 2
        return 0 if all(t.startswith("charge:") for t in self.applies_to) else 1

    def applies(self, item: str) -> bool:
        if item.startswith("adjustment:"):
            return False
        if self.applies_to is None:
            return True
        if item == "base_fee":
            return "base_fee" in self.applies_to
        if item == "commitment":
            return "usage" in self.applies_to
        return "usage" in self.applies_to or item in self.applies_to


def parse_coupons(raw, file: str, charge_ids: set[str]) -> list[Coupon]:
    """The `coupons:` list of one price book file; PriceBookError naming file, coupon and field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PriceBookError(f"{file}: coupons: must be a list")
    return [_parse_coupon(entry, file, i, charge_ids) for i, entry in enumerate(raw)]


class _CouponWhere(Where):
    """Where in a coupon: `file: coupon launch10: field: ...`."""

    def __init__(self, file: str, coupon: str, path: str = ""):
        super().__init__(file, None, path)
        self.coupon = coupon

    def at(self, part: str | int) -> Where:
        inner = Where(self.file, None, self.path).at(part)
        return _CouponWhere(self.file, self.coupon, inner.path)

    def error(self, message: str) -> PriceBookError:
        path = f": {self.path}" if self.path else ""
        return PriceBookError(f"{self.file}: coupon {self.coupon}{path}: {message}")


def _parse_coupon(raw, file: str, index: int, charge_ids: set[str]) -> Coupon:
    where = Where(file, path=f"coupons[{index}]")
    if not isinstance(raw, dict):
        raise where.error("must be a mapping")
    coupon_id = take(raw, "coupon_id", where)
    where = _CouponWhere(file, str(coupon_id))
    kind = take(raw, "kind", where)
    if kind not in KINDS:
        raise where.at("kind").error(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    no_unknown_keys(raw, _KEYS[kind], where)
    terms: dict = {}
    if kind == "percentage":
        percent = read_decimal(
            take(raw, "percent", where), where.at("percent"), kind=PRICE, positive=True
        )
        if percent > 1:
            raise where.at("percent").error(f"{percent} is above 1 (a fraction: 0.10 is 10 %)")
        terms["percent"] = percent
    else:
        terms["amount"] = read_decimal(
            take(raw, "amount", where), where.at("amount"), kind=FEE, positive=True
        )
        currency = str(take(raw, "currency", where)).upper()
        if not is_currency(currency):
            raise where.at("currency").error(f"{currency!r} is not an ISO 4217 currency code")
        terms["currency"] = currency
    months = raw.get("duration_months")
    if months is not None and (
        not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= INT32_MAX
    ):
        raise where.at("duration_months").error(
            f"must be a whole number of months from 1, got {months!r}"
        )
    return Coupon(
        coupon_id=str(coupon_id),
        kind=kind,
        duration_months=months,
        applies_to=_applies_to(raw.get("applies_to"), where.at("applies_to"), charge_ids),
        source_file=file,
        **terms,
    )


def _applies_to(raw, where: Where, charge_ids: set[str]) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise where.error("must be a non-empty list of base_fee, usage or charge:<charge_id>")
    targets = []
    for i, entry in enumerate(raw):
        entry = str(entry)
        if entry.startswith("charge:"):
            if entry.removeprefix("charge:") not in charge_ids:
                raise where.at(i).error(f"{entry}: no plan of the price book has that charge")
        elif entry not in ("base_fee", "usage"):
            raise where.at(i).error(f"{entry!r} is not base_fee, usage or charge:<charge_id>")
        targets.append(entry)
    return tuple(targets)


def coupons_from_tables(coupons: pl.DataFrame, targets: pl.DataFrame) -> dict[str, Coupon]:
    """The coupons of the lake's price-book tables (`coupons`, `coupon_targets`), by id."""
    applies: dict[str, list[str]] = {}
    for t in targets.iter_rows(named=True):
        applies.setdefault(t["coupon_id"], []).append(t["target"])
    return {
        c["coupon_id"]: Coupon(
            c["coupon_id"],
            c["kind"],
            percent=c["percent"],
            amount=c["amount"],
            currency=c["currency"],
            duration_months=c["duration_months"],
            applies_to=tuple(applies.get(c["coupon_id"], ())) if c["limited"] else None,
            source_file=c["source_file"],
        )
        for c in coupons.iter_rows(named=True)
    }


def check_coupons_apart(coupons: Sequence[Coupon]) -> None:
    seen: dict[str, str] = {}
    for c in coupons:
        if c.coupon_id in seen:
            raise PriceBookError(
                f"{c.source_file}: coupon {c.coupon_id}: coupon_id: already defined in {seen[c.coupon_id]}"
            )
        seen[c.coupon_id] = c.source_file


@dataclass(frozen=True)
class Redemption:
    redemption_id: str
    coupon: Coupon
    redeemed_on: dt.date

    def active(self, period_start: dt.date) -> bool:
        """Whether the redemption applies to the invoice of the month starting `period_start`."""
        first = self.redeemed_on.replace(day=1)
        if period_start < first:
            return False
        months = (period_start.year - first.year) * 12 + period_start.month - first.month
        return self.coupon.duration_months is None or months < self.coupon.duration_months


@dataclass(frozen=True)
class Discount:
    coupon_id: str
    redemption_id: str
    amount: Decimal  # negative
    shares: dict[str, Decimal]  # item -> its share of the amount


def apply_coupons(
    items: Sequence[Item], redemptions: Sequence[Redemption], period_start: dt.date, currency: str
) -> tuple[list[Discount], list[Item]]:
    """The discounts of one invoice, in order, and its items after them (taxed: discounts come
    before tax)."""
    remaining = {i.item: i.amount for i in items}
    active = sorted(
        (r for r in redemptions if r.active(period_start)),
        key=lambda r: (r.coupon.order_class, r.redeemed_on, r.redemption_id),
    )
    discounts = []
    for r in active:
        eligible = [i.item for i in items if r.coupon.applies(i.item) and remaining[i.item] > 0]
        held = sum((remaining[i] for i in eligible), ZERO)
        if held <= 0:
            continue
        if r.coupon.kind == "percentage":
            off = round_money(held * r.coupon.percent, currency)
        else:
            off = min(r.coupon.amount, held)
        if off <= 0:
            continue
        shares = dict(
            zip(eligible, allocate(-off, [remaining[i] for i in eligible], currency), strict=True)
        )
        for item, share in shares.items():
            remaining[item] += share
        discounts.append(Discount(r.coupon.coupon_id, r.redemption_id, -off, shares))
    after = [Item(i.item, i.item_order, remaining[i.item], i.tax_rate) for i in items]
    return discounts, taxed(after, currency)
