"""Invoice documents: `exports/<invoice_id>.json` and `.html` for every issued invoice.

Written from the issued store once a close has committed, and never rewritten: a document that
exists is left as it is, so re-running a close (or a crash between the commit and the last
document) only fills in what is missing. Money is shown with exactly the currency's minor units
(`12.50 USD`, `1,250 JPY`); unit prices keep their own precision, because they are prices, not
amounts. The JSON is the document for machines (a product's own billing page); the HTML is the
same document for people, and prints on A4 and Letter.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

import polars as pl

from lake.home import Home, safe_file_name
from lake.issued import read_period
from lake.records import write_text_atomically
from lake.reference import read_seller
from publish.pages import render, to_json
from transforms.items import InvoiceLine, invoice_items
from transforms.money import (
    MoneyError,
    amount_text,
    format_money,
    format_quantity,
    money_text,
    plain_quantity,
)
from transforms.seller import Seller
from transforms.units import MONEY_MODELS, charge_unit, readable

# Lines priced per month and prorated by days subscribed: (their text, the plan's field).
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
# The order lines are printed in: the plan's fee, usage (each charge with its commitments),
# the plan's minimum and cap, corrections.
LINE_ORDER = {
    "base_fee": 0,
    "usage": 1,
    "minimum_true_up": 2,
    "spend_cap": 3,
    "adjustment": 4,
    "discount": 5,
}


def write_documents(home: Home, month: dt.date) -> int:
    """The documents of a committed month's invoices that are not written yet; how many files
    were written."""
    invoices, lines, consumption, items = read_period(home, month)
    pricing = Pricing.load(home)
    seller = read_seller(home)
    lines_of = lines.partition_by("invoice_id", as_dict=True)
    credits_of = consumption.partition_by("invoice_id", as_dict=True)
    items_of = items.partition_by("invoice_id", as_dict=True)
    written = 0
    for invoice in invoices.iter_rows(named=True):
        name = safe_file_name(invoice["invoice_id"])
        paths = {kind: home.exports / f"{name}.{kind}" for kind in ("json", "html")}
        if all(p.exists() for p in paths.values()):
            continue
        key = (invoice["invoice_id"],)
        document = invoice_document(
            invoice,
            lines_of.get(key, lines.clear()).iter_rows(named=True),
            credits_of.get(key, consumption.clear()).iter_rows(named=True),
            pricing,
            seller,
            list(items_of.get(key, items.clear()).iter_rows(named=True)),
        )
        documents = [(paths, document)]
        if invoice.get("credit_note_number"):
            note = {k: home.exports / "credit-notes" / f"{name}.{k}" for k in ("json", "html")}
            documents.append((note, credit_note_document(document, invoice)))
        for where, doc in documents:
            if not where["json"].exists():
                write_text_atomically(where["json"], to_json(doc, indent=2) + "\n")
                written += 1
            if not where["html"].exists():
                write_text_atomically(where["html"], render("invoice.html.j2", doc=doc))
                written += 1
    return written


@dataclass(frozen=True)
class Pricing:
    """The price book as the lake holds it (every plan version), for describing lines."""

    plans: dict[tuple[str, int], dict]
    charges: dict[tuple[str, int, str], dict]
    tiers: dict[tuple[str, int, str, int], list[dict]]  # by charge and price_index
    group_prices: dict[tuple[str, int, str], list[dict]]  # a grouped charge's, in order
    coupons: dict[str, dict] = field(default_factory=dict)
    coupon_targets: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Home) -> Pricing:
        def rows(table: str) -> list[dict]:
            path = home.lake_pricing / f"{table}.parquet"
            return list(pl.read_parquet(path).iter_rows(named=True)) if path.exists() else []

        tiers: dict[tuple[str, int, str, int], list[dict]] = {}
        for t in sorted(rows("charge_tiers"), key=lambda t: t["tier_index"]):
            key = (t["plan_id"], t["plan_version"], t["charge_id"], t["price_index"] or 0)
            tiers.setdefault(key, []).append(t)
        matches: dict[tuple, dict[str, set[str]]] = {}
        for m in rows("charge_group_matches"):
            key = (m["plan_id"], m["plan_version"], m["charge_id"], m["price_index"])
            matches.setdefault(key, {}).setdefault(m["property_key"], set()).add(
                m["property_value"]
            )
        group_prices: dict[tuple[str, int, str], list[dict]] = {}
        for g in sorted(rows("charge_group_prices"), key=lambda g: g["price_index"]):
            key = (g["plan_id"], g["plan_version"], g["charge_id"])
            group_prices.setdefault(key, []).append(
                {**g, "match": matches.get((*key, g["price_index"]), {})}
            )
        targets: dict[str, list[str]] = {}
        for t in rows("coupon_targets"):
            targets.setdefault(t["coupon_id"], []).append(t["target"])
        return cls(
            {(p["plan_id"], p["plan_version"]): p for p in rows("plans")},
            {(c["plan_id"], c["plan_version"], c["charge_id"]): c for c in rows("charges")},
            tiers,
            group_prices,
            {c["coupon_id"]: c for c in rows("coupons")},
            targets,
        )

    def price_of(self, charge: dict, group_key: str | None) -> dict:
        """The price a usage line was rated at: for a group, the first group price whose match
        holds (each property one of its values), else the charge's own (price_index 0)."""
        values = json.loads(group_key) if group_key else None
        key = (charge["plan_id"], charge["plan_version"], charge["charge_id"])
        for group in self.group_prices.get(key, []) if values is not None else []:
            if all(values.get(k) in allowed for k, allowed in group["match"].items()):
                price = {k: v for k, v in group.items() if k not in ("match",)}
                return {**charge, **price}
        return {**charge, "price_index": 0}


def invoice_document(
    invoice: dict,
    lines,
    credits,
    pricing: Pricing,
    seller: Seller | None = None,
    items: list[dict] | None = None,
) -> dict:
    """One issued invoice as a document: the JSON written to exports/, the HTML's input. The
    seller's profile (seller.yaml) heads it when the home has one; the customer's billing
    address and tax id are those frozen when the invoice was issued."""
    currency = invoice["currency"]

    def money(amount: Decimal) -> str:
        return money_text(amount, currency)

    period_start = invoice["period_start"]
    last_day = invoice["period_end"] - dt.timedelta(days=1)
    issued_at = invoice["issued_at"]
    lines = list(lines)
    described = sorted(
        (_line(line, pricing, period_start) for line in lines),
        key=lambda ln: (_order(ln), ln["description"], ln["line_id"]),
    )
    for line in described:
        line["amount"] = money(line["amount"])
    return {
        "document": "invoice",
        "invoice_id": invoice["invoice_id"],
        "invoice_number": invoice["invoice_number"],
        "status": "issued",
        "seller": seller.as_dict() if seller else None,
        "customer": {
            "customer_id": invoice["customer_id"],
            "name": invoice["customer_name"],
            "billing_address": invoice.get("customer_billing_address"),
            "tax_id": invoice.get("customer_tax_id"),
        },
        "currency": currency,
        "period": {"first_day": period_start.isoformat(), "last_day": last_day.isoformat()},
        "issued_at": issued_at.isoformat(),
        "issue_date": issued_at.date().isoformat(),
        "due_date": invoice["due_date"].isoformat() if invoice["due_date"] else None,
        "lines": described,
        "subtotal": money(invoice["subtotal"]),
        "tax": money(invoice.get("tax") or Decimal(0)),
        "taxes": _taxes_by_rate(items or _items_of(lines, currency), currency),
        "credits_applied": money(invoice["credits_applied"]),
        "total": money(invoice["total"]),
        "amount_due": money(invoice["total"]),
        "credits": [
            {"grant_id": c["grant_id"], "credits": _plain(c["credits"]), "money": money(c["money"])}
            for c in credits
        ],
    }


def credit_note_document(invoice_doc: dict, invoice: dict) -> dict:
    """What an invoice whose subtotal is negative owes the customer, as a credit note of its
    own (`exports/credit-notes/<invoice_id>`), numbered in the credit notes' series: the invoice's lines
    for reference, and the amount credited."""
    currency = invoice["currency"]
    return {
        **invoice_doc,
        "document": "credit_note",
        "credit_note_number": invoice["credit_note_number"],
        "credited_invoice": {
            "invoice_id": invoice["invoice_id"],
            "invoice_number": invoice["invoice_number"],
        },
        "amount_credited": money_text(-invoice["subtotal"], currency),
        "amount_due": money_text(Decimal(0), currency),
    }


def _items_of(lines: list[dict], currency: str) -> list[dict]:
    """The items of an invoice issued before items were frozen, from its lines (it has no
    discounts)."""
    made = invoice_items(
        (
            InvoiceLine(
                ln["line_type"], ln["charge_id"], ln["amount"], ln.get("tax_rate") or Decimal(0)
            )
            for ln in lines
        ),
        currency,
    )
    return [{"tax_rate": i.tax_rate, "tax": i.tax} for i in made]


def _taxes_by_rate(items: list[dict], currency: str) -> list[dict]:
    """The invoice's tax, one row per rate above 0 (each the sum of its items' taxes, every
    item rounded on its own). Lines issued before taxes carry no rate: none is shown."""
    by_rate: dict[Decimal, Decimal] = {}
    for item in items:
        if item["tax_rate"] > 0:
            by_rate[item["tax_rate"]] = by_rate.get(item["tax_rate"], Decimal(0)) + item["tax"]
    return [
        {
            "rate": f"{format(rate * 100, 'f').rstrip('0').rstrip('.')} %",
            "tax": money_text(tax, currency),
        }
        for rate, tax in sorted(by_rate.items())
    ]


def _order(line: dict) -> int:
    """Where a line is printed: a charge's own commitment lines right after its usage line
    (their descriptions start with the charge's), the plan's lines by LINE_ORDER."""
    if line["line_type"] in CHARGE_COMMITMENTS and line["charge_id"] is not None:
        return LINE_ORDER["usage"]
    return LINE_ORDER.get(line["line_type"], 9)


def _plain(quantity: Decimal | None) -> str | None:
    """A quantity as exact text without trailing zeros (`30`, `1.5`)."""
    return None if quantity is None else plain_quantity(quantity)


def _line(line: dict, pricing: Pricing, period_start: dt.date) -> dict:
    kind = line["line_type"]
    plan = pricing.plans.get((line["plan_id"], line["plan_version"]), {})
    charge = pricing.charges.get((line["plan_id"], line["plan_version"], line["charge_id"]))
    out = {
        "line_id": line["invoice_line_id"],
        "line_type": kind,
        "charge_id": line["charge_id"],
        "description": "",
        "quantity": _plain(line["quantity"]),
        "unit": None,
        "pricing": None,
        "tiers": [],
        "amount": line["amount"],
    }
    currency = line["currency"]
    plan_name = plan.get("name") or line["plan_id"]
    days = calendar.monthrange(period_start.year, period_start.month)[1]
    if kind in CHARGE_COMMITMENTS and charge is not None:
        what, field = CHARGE_COMMITMENTS[kind]
        out |= {
            "description": f"{charge['description'] or readable(charge['charge_id'])}, {what}",
            "unit": "days",
            "pricing": _prorated(charge.get(field), currency, line["quantity"], days),
        }
    elif kind in FEES:
        what, field = FEES[kind]
        out |= {
            "description": f"{plan_name} plan, {what}",
            "unit": "days",
            "pricing": _prorated(plan.get(field), currency, line["quantity"], days),
        }
    elif kind == "adjustment":
        out |= {"description": correction_text(line["charge_id"] or ""), "quantity": None}
    elif kind == "discount":
        coupon = pricing.coupons.get(line.get("coupon_id") or "", {})
        out |= {
            "description": f"Coupon {line.get('coupon_id')}",
            "coupon_id": line.get("coupon_id"),
            "quantity": None,
            "pricing": _coupon_terms(
                coupon, pricing.coupon_targets.get(line.get("coupon_id") or "", [])
            ),
        }
    elif charge is not None:
        charge = pricing.price_of(charge, line.get("group_key"))
        out |= {
            "description": (charge["description"] or readable(charge["charge_id"]))
            + group_text(line.get("group_key")),
            "group_key": line.get("group_key"),
            "unit": charge.get("unit")
            or charge_unit(
                unit=None,
                model=charge["model"],
                aggregation=charge["aggregation"],
                metric=charge["metric"],
                unique_property=charge["unique_property"],
                currency=currency,
            ),
            "pricing": _usage_pricing(charge, currency),
            "tiers": list(_tier_breakdown(charge, pricing, line["quantity"], currency)),
        }
        if charge["model"] in MONEY_MODELS and line["quantity"] is not None:
            out["quantity"] = amount_text(line["quantity"], currency)  # money: its minor units
    else:
        out["description"] = readable(line["charge_id"] or kind)
    return out


def _coupon_terms(coupon: dict, targets: list[str]) -> str | None:
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


def _prorated(fee: Decimal | None, currency: str, days: Decimal | None, in_period: int) -> str:
    if fee is None:
        return ""
    return f"{_fee(fee, currency)} per month, {format_quantity(days or 0)} of {in_period} days"


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


def _usage_pricing(charge: dict, currency: str) -> str:
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


def _tier_breakdown(
    charge: dict, pricing: Pricing, units: Decimal, currency: str
) -> Iterator[dict]:
    """The tiers a graduated, graduated_percentage or volume line used, with the units priced
    in each and how (`priced`: per unit, in packages, or at a percentage)."""
    if charge["model"] not in ("graduated", "volume", "graduated_percentage"):
        return
    key = (charge["plan_id"], charge["plan_version"], charge["charge_id"], charge["price_index"])
    for tier in pricing.tiers.get(key, []):
        lower, upper = tier["lower_bound"], tier["up_to"]
        if charge["model"] == "volume":
            reached = units <= upper if upper is not None else True
            if not reached and tier is not pricing.tiers[key][-1]:
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
            "from": _plain(lower),
            "up_to": _plain(upper),
            "units": _plain(units_inside),
            "unit_price": _plain(tier["unit_price"]),
            "package_size": _plain(tier.get("package_size")),
            "package_price": _plain(tier.get("package_price")),
            "rate": _plain(tier.get("rate")),
            "priced": _tier_priced(tier, units_inside, currency),
            "flat_fee": _plain(tier["flat_fee"] or Decimal(0)),
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
