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
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from lake.home import Home, safe_file_name
from lake.issued import read_period
from lake.records import write_text_atomically
from lake.reference import read_seller
from publish.pages import render, to_json
from publish.price_text import (
    CHARGE_COMMITMENTS,
    FEES,
    correction_text,
    coupon_terms,
    group_text,
    plain,
    prorated,
    tier_breakdown,
    usage_pricing,
)
from transforms.items import InvoiceLine, invoice_items
from transforms.money import (
    amount_text,
    money_text,
)
from transforms.seller import Seller
from transforms.units import MONEY_MODELS, charge_unit, readable

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
        (_line(line, pricing, period_start, invoice["period_end"]) for line in lines),
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
            {"grant_id": c["grant_id"], "credits": plain(c["credits"]), "money": money(c["money"])}
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


def _fee_in_advance(line: dict, fee, text: str, days: int, per: str, period_end: dt.date) -> dict:
    """A base fee paid in advance names the days it is for: the next period's whole fee (at
    the price in force then, the line's own amount), or the unused days of a period paid in
    advance, credited. A fee for the invoice's own days (in arrears, a first period) stays as
    it is. `text`: the plan's name; `days`: the billing period's days; `period_end`: the
    invoice period's (exclusive)."""
    start, end, currency = (
        line["service_period_start"],
        line["service_period_end"],
        line["currency"],
    )
    service = f"{start:%Y-%m-%d} to {end - dt.timedelta(days=1):%Y-%m-%d}"
    if line["quantity"] < 0:
        return {
            "description": f"{text} plan, base fee paid in advance: unused days {service} credited",
            "pricing": prorated(fee, currency, -line["quantity"], days, per),
        }
    if start < period_end:
        return {}
    return {
        "description": f"{text} plan, base fee in advance for {service}",
        "pricing": prorated(line["amount"], currency, line["quantity"], (end - start).days, per),
    }


def _line(line: dict, pricing: Pricing, period_start: dt.date, period_end: dt.date) -> dict:
    kind = line["line_type"]
    plan = pricing.plans.get((line["plan_id"], line["plan_version"]), {})
    charge = pricing.charges.get((line["plan_id"], line["plan_version"], line["charge_id"]))
    out = {
        "line_id": line["invoice_line_id"],
        "line_type": kind,
        "charge_id": line["charge_id"],
        "description": "",
        "quantity": plain(line["quantity"]),
        "unit": None,
        "pricing": None,
        "tiers": [],
        "amount": line["amount"],
    }
    currency = line["currency"]
    plan_name = plan.get("name") or line["plan_id"]
    days = line.get("period_days") or calendar.monthrange(period_start.year, period_start.month)[1]
    per = plan.get("billing_interval") or "month"
    if kind in CHARGE_COMMITMENTS and charge is not None:
        what, field = CHARGE_COMMITMENTS[kind]
        rated_per = "month" if plan.get("usage_invoicing") == "monthly" else per
        out |= {
            "description": f"{charge['description'] or readable(charge['charge_id'])}, {what}",
            "unit": "days",
            "pricing": prorated(charge.get(field), currency, line["quantity"], days, rated_per),
        }
    elif kind in FEES:
        what, field = FEES[kind]
        out |= {
            "description": f"{plan_name} plan, {what}",
            "unit": "days",
            "pricing": prorated(plan.get(field), currency, line["quantity"], days, per),
        }
        if kind == "base_fee" and line.get("service_period_start") is not None:
            out |= _fee_in_advance(line, plan.get(field), plan_name, days, per, period_end)
    elif kind == "adjustment":
        out |= {"description": correction_text(line["charge_id"] or ""), "quantity": None}
    elif kind == "discount":
        coupon = pricing.coupons.get(line.get("coupon_id") or "", {})
        out |= {
            "description": f"Coupon {line.get('coupon_id')}",
            "coupon_id": line.get("coupon_id"),
            "quantity": None,
            "pricing": coupon_terms(
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
            "pricing": usage_pricing(charge, currency),
            "tiers": list(tier_breakdown(charge, pricing.tiers, line["quantity"], currency)),
        }
        if charge["model"] in MONEY_MODELS and line["quantity"] is not None:
            out["quantity"] = amount_text(line["quantity"], currency)  # money: its minor units
    else:
        out["description"] = readable(line["charge_id"] or kind)
    return out
