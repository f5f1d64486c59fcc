"""How an invoice document says what a line was priced at: unit prices, tiers and how each
tier priced its units, prorated fees, groups, corrections and coupons, in words and numbers a
customer reads (unit prices keep their own precision; amounts have the currency's minor
units). `publish.documents` puts them on the document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import ROUND_CEILING, Decimal

from transforms.money import MoneyError, format_money, format_quantity, money_text, plain_quantity
from transforms.units import readable

# Lines priced per billing period and prorated by days subscribed: (their text, the plan's
# field).
FEES = {
    "base_fee": ("base fee", "base_fee"),
    "minimum_true_up": ("minimum commitment true-up", "minimum_commitment"),
    "spend_cap": ("spend cap", "maximum_commitment"),
}
# What a charge's own commitment lines say, and the price-book field they come from.
CHARGE_COMMITMENTS = {
    "minimum_true_up": ("minimum spend true-up", "minimum"),
    "spend_cap": ("spend cap", "maximum"),
}


def plain(quantity: Decimal | None) -> str | None:
    """A quantity as exact text without trailing zeros (`30`, `1.5`)."""
    return None if quantity is None else plain_quantity(quantity)


def coupon_terms(coupon: dict, targets: list[str]) -> str | None:
    """What a coupon takes off (`10 % off usage`, `50.00 USD off`), as the price book says."""
    if not coupon:
        return None
    if coupon["kind"] == "percentage":
        off = f"{format(coupon['percent'] * 100, 'f').rstrip('0').rstrip('.')} % off"
    else:
        off = f"{money_text(coupon['amount'], coupon['currency'])} {coupon['currency']} off"
    what = ", ".join(
        readable(t.removeprefix("charge:")) if t.startswith("charge:") else t.replace("_", " ")
        for t in targets
    )
    return f"{off} {what}" if what else off


def _price(price: Decimal | None, currency: str) -> str:
    """A unit price keeps its own digits (`0.0015 USD`)."""
    return f"{format_quantity(price or Decimal(0))} {currency}"


def _fee(fee: Decimal, currency: str) -> str:
    """A fee is money: minor units (`49.00 USD`), unless the price book gave it more digits."""
    try:
        return format_money(fee, currency)
    except MoneyError:
        return _price(fee, currency)


def prorated(
    fee: Decimal | None, currency: str, days: Decimal | None, in_period: int, per: str = "month"
) -> str:
    """A fee per billing period (`per`: month, quarter or year), prorated by days."""
    if fee is None:
        return ""
    return f"{_fee(fee, currency)} per {per}, {format_quantity(days or 0)} of {in_period} days"


def group_text(group_key: str | None) -> str:
    """A group's values after its charge's name: ` (model: large)`, ` (model: (none), region:
    eu)`; nothing for a line without a group."""
    if not group_key:
        return ""
    values = json.loads(group_key)
    shown = ", ".join(f"{k}: {'(none)' if v is None else v}" for k, v in values.items())
    return f" ({shown})"


def correction_text(key: str) -> str:
    """What an adjustment line corrects, from its key: `INV-2026-09-c:calls` ->
    `Correction to invoice INV-2026-09-c, Calls`; a charge's commitment line keeps its kind
    (`...:calls:spend_cap` -> `..., Calls, spend cap`); the plan's lines say theirs
    (`...:base_fee` -> `..., base fee`)."""
    key, brace, group = key.partition(":{")
    if brace:  # a grouped charge's usage: the group's values after its name
        return correction_text(key) + group_text("{" + group)
    parts = key.split(":")
    if parts[-1] in FEES and (len(parts) == 2 or parts[-1] not in CHARGE_COMMITMENTS):
        return f"Correction to invoice {':'.join(parts[:-1])}, {FEES[parts[-1]][0]}"
    if len(parts) >= 3 and parts[-1] in CHARGE_COMMITMENTS:
        what = f", {CHARGE_COMMITMENTS[parts[-1]][0]}"
        parts = parts[:-1]
    else:
        what = ""
    return f"Correction to invoice {':'.join(parts[:-1])}, {readable(parts[-1])}{what}"


def usage_pricing(charge: dict, currency: str) -> str:
    """How a usage line is priced, in a sentence: the model, then what the measure adds (a
    recurring scope, buckets)."""
    text = _model_pricing(charge, currency)
    if charge.get("bucket"):
        text = f"each {charge['bucket']} priced on its own: {text}"
    if charge.get("recurring"):
        text += "; counts every earlier month too"
    return text


def _model_pricing(charge: dict, currency: str) -> str:
    model = charge["model"]
    free = charge["free_units"] or Decimal(0)
    free_text = f", first {format_quantity(free)} free" if free else ""
    if model == "per_unit":
        return f"{_price(charge['unit_price'], currency)} per unit{free_text}"
    if model == "package":
        part = ", a part package not billed" if charge.get("rounding") == "down" else ""
        return (
            f"{_fee(charge['package_price'], currency)} per package of "
            f"{format_quantity(charge['package_size'])}{free_text}{part}"
        )
    if model == "percentage":
        return _percentage_pricing(charge, currency)
    if model == "graduated":
        return "graduated tiers: each tier prices the units inside it"
    if model == "graduated_percentage":
        return "graduated tiers: each tier takes its percentage of the amount inside it"
    return "volume tiers: every unit at the price of the tier the total reaches"


def _percentage_pricing(charge: dict, currency: str) -> str:
    """`1.3% of the amount + 2.00 USD per paying event; the first 3 events and the first 250 of
    the amount free; at least 1.75 USD and at most 12.00 USD per event`."""
    rate = format_quantity(charge["rate"] * 100)
    fee = charge["fixed_fee"] or Decimal(0)
    allowance = charge.get("free_events") is not None or charge.get("free_amount") is not None
    event = "paying event" if allowance else "billable event"
    parts = [f"{rate}% of the amount" + (f" + {_fee(fee, currency)} per {event}" if fee else "")]
    free = []
    if charge.get("free_events") is not None:
        free.append(f"the first {charge['free_events']:,} events")
    if charge.get("free_amount") is not None:
        free.append(f"the first {format_quantity(charge['free_amount'])} of the amount")
    if free:
        parts.append(" and ".join(free) + " free")
    bounds = []
    if charge.get("per_event_min") is not None:
        bounds.append(f"at least {_fee(charge['per_event_min'], currency)}")
    if charge.get("per_event_max") is not None:
        bounds.append(f"at most {_fee(charge['per_event_max'], currency)}")
    if bounds:
        parts.append(" and ".join(bounds) + " per event")
    return "; ".join(parts)


def tier_breakdown(charge: dict, tiers: dict, units: Decimal, currency: str) -> Iterator[dict]:
    """The tiers a graduated, graduated_percentage or volume line used, with the units priced
    in each and how (`priced`: per unit, in packages, or at a percentage)."""
    if charge["model"] not in ("graduated", "volume", "graduated_percentage"):
        return
    key = (charge["plan_id"], charge["plan_version"], charge["charge_id"], charge["price_index"])
    for tier in tiers.get(key, []):
        lower, upper = tier["lower_bound"], tier["up_to"]
        if charge["model"] == "volume":
            reached = units <= upper if upper is not None else True
            if not reached and tier is not tiers[key][-1]:
                continue
            inside = units
        else:
            if units <= lower and tier["tier_index"] > 1:
                return
            inside = (units if upper is None else min(units, upper)) - lower
        units_inside = max(inside, Decimal(0))
        yield {
            "tier": tier["tier_index"],
            "range": tier_range(lower, upper),
            "from": plain(lower),
            "up_to": plain(upper),
            "units": plain(units_inside),
            "unit_price": plain(tier["unit_price"]),
            "package_size": plain(tier.get("package_size")),
            "package_price": plain(tier.get("package_price")),
            "rate": plain(tier.get("rate")),
            "priced": _tier_priced(tier, units_inside, currency),
            "flat_fee": plain(tier["flat_fee"] or Decimal(0)),
        }
        if charge["model"] == "volume":
            return


def _tier_priced(tier: dict, units: Decimal, currency: str) -> str:
    """How a tier priced its units: `1,000 x 0.10 USD`, `10 packages of 100 x 1.00 USD`, or
    `21 x 3%` (a graduated_percentage tier)."""
    if tier.get("package_size") is not None:
        size = tier["package_size"]
        packages = (units / size).to_integral_value(rounding=ROUND_CEILING)
        return (
            f"{format_quantity(packages)} packages of {format_quantity(size)} "
            f"\u00d7 {_fee(tier['package_price'], currency)}"
        )
    if tier.get("rate") is not None:
        return f"{format_quantity(units)} \u00d7 {format_quantity(tier['rate'] * 100)}%"
    return f"{format_quantity(units)} \u00d7 {_price(tier['unit_price'], currency)}"


def tier_range(lower: Decimal, upper: Decimal | None) -> str:
    """A tier's units in words. Whole bounds count whole units: `1 to 100`, `101 to 1,000`,
    `1,001 and above`. A fractional bound cannot name its first unit: `over 2.5 to 10`,
    `over 10`, and a first tier `up to 2.5`."""
    if lower == lower.to_integral_value() and (upper is None or upper == upper.to_integral()):
        first = format_quantity(lower + 1)
        return f"{first} and above" if upper is None else f"{first} to {format_quantity(upper)}"
    if upper is None:
        return f"over {format_quantity(lower)}"
    if lower == 0:
        return f"up to {format_quantity(upper)}"
    return f"over {format_quantity(lower)} to {format_quantity(upper)}"
