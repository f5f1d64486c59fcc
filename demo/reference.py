"""The demo world's reference data: customers with billing details, their subscriptions,
credit grants of every kind, an automatic top-up, coupon redemptions and the seller's
profile."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import polars as pl

from demo.config import GenerateConfig
from transforms.rating import month_bounds

USD_PLANS = ("starter", "growth", "scale", "bulk", "outcome", "platform")
# cus_0007 is on an annual contract (the Enterprise plan: calendar years, the fee in advance):
# its 2026 invoice, September to December with 2027's fee, stays open through the demo.
ANNUAL_CUSTOMER = 6


def customers_of(cfg: GenerateConfig, rng: np.random.Generator) -> pl.DataFrame:
    ids = [f"cus_{i:04d}" for i in range(1, cfg.customers + 1)]
    currency = ["EUR" if i % 10 == 9 else "USD" for i in range(cfg.customers)]
    created = [cfg.start - dt.timedelta(days=int(d)) for d in rng.integers(30, 400, cfg.customers)]
    return pl.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Customer {i:04d}" for i in range(1, cfg.customers + 1)],
            "currency": currency,
            "created_at": [f"{c.isoformat()}T00:00:00Z" for c in created],
            "billing_address": [
                f"{i} Hauptstraße\n10115 Berlin, Germany"
                if c == "EUR"
                else f"{i} Market Street\nSan Francisco, CA 94105, USA"
                for i, c in enumerate(currency, 1)
            ],
            # a VAT id for the customers billed in euros (business customers in the EU)
            "tax_id": [
                f"DE{300000000 + i}" if c == "EUR" else None for i, c in enumerate(currency, 1)
            ],
        }
    )


SELLER = """\
legal_name: Example API Inc.
address: |
  500 Howard Street
  San Francisco, CA 94105, USA
tax_id: US-EIN 12-3456789
payment_instructions: |
  Bank transfer to account 000123456789, routing 121000248, quoting the invoice number.
"""


def coupon_redemptions(cfg: GenerateConfig, customers: pl.DataFrame) -> pl.DataFrame:
    """Coupons redeemed: launch20 (20 % off usage for three months) by every eighth customer,
    welcome25 (25.00 USD off once) by the next in each eight who pays in dollars."""
    rows = []
    for i, (cid, ccy) in enumerate(customers.select("customer_id", "currency").iter_rows()):
        if i % 8 == 2:
            rows.append((f"red_{cid}_launch", cid, "launch20", cfg.start + dt.timedelta(days=1)))
        elif i % 8 == 3 and ccy == "USD":
            rows.append((f"red_{cid}_welcome", cid, "welcome25", cfg.start + dt.timedelta(days=9)))
    return pl.DataFrame(
        rows,
        schema={
            "redemption_id": pl.String,
            "customer_id": pl.String,
            "coupon_id": pl.String,
            "redeemed_on": pl.Date,
        },
        orient="row",
    )


def subscriptions(cfg: GenerateConfig, customers: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for i, (cid, ccy) in enumerate(customers.select("customer_id", "currency").iter_rows()):
        start = cfg.start.replace(day=1)
        if ccy == "EUR":
            rows.append((f"sub_{cid}_1", cid, "starter_eur", start, None))
            continue
        plan = "enterprise" if i == ANNUAL_CUSTOMER else USD_PLANS[i % len(USD_PLANS)]
        # Every other starter customer upgrades to growth on the 15th of the second month.
        if plan == "starter" and (i // len(USD_PLANS)) % 2 == 0 and cfg.days > 45:
            change = (month_bounds(start)[1]).replace(day=15)
            rows.append((f"sub_{cid}_1", cid, "starter", start, change))
            rows.append((f"sub_{cid}_2", cid, "growth", change, None))
        else:
            rows.append((f"sub_{cid}_1", cid, plan, start, None))
    return pl.DataFrame(
        rows,
        schema={
            "subscription_id": pl.String,
            "customer_id": pl.String,
            "plan_id": pl.String,
            "started_at": pl.Date,
            "ended_at": pl.Date,
        },
        orient="row",
    )


GRANT_SCHEMA = {
    "grant_id": pl.String,
    "customer_id": pl.String,
    "granted_at": pl.Date,
    "credits": pl.String,
    "kind": pl.String,
    "purchase_amount": pl.String,
    "expires_at": pl.Date,
    "priority": pl.Int32,
    "applies_to": pl.String,
    "recurrence": pl.String,
    "rollover_cap": pl.String,
}


def credit_grants(cfg: GenerateConfig, subs: pl.DataFrame) -> pl.DataFrame:
    """Grants of the customers on plans that take credits: a promotional grant that expires
    in the second month, a purchase (some expiring), credits for tokens only for every other
    one, and a monthly grant rolled over up to 500 for every third."""
    rows = []
    credit_plans = subs.filter(pl.col("plan_id").is_in(["growth", "scale"]))
    for n, cid in enumerate(sorted(set(credit_plans["customer_id"].to_list()))):
        rows.append(
            {
                "grant_id": f"gr_{cid}_promo",
                "customer_id": cid,
                "granted_at": cfg.start,
                "credits": "2000",
                "kind": "promotional",
                "purchase_amount": "0",
                "expires_at": cfg.start + dt.timedelta(days=45),
                "priority": 10,
            }
        )
        credits = 5000 * (1 + n % 4)
        rows.append(
            {
                "grant_id": f"gr_{cid}_buy1",
                "customer_id": cid,
                "granted_at": cfg.start + dt.timedelta(days=3),
                "credits": str(credits),
                "kind": "purchased",
                "purchase_amount": str(Decimal(credits) * Decimal("0.008")),
                "expires_at": (cfg.start + dt.timedelta(days=75)) if n % 3 == 0 else None,
                "priority": 50,
            }
        )
        if n % 2:  # credits bought for tokens only: they leave the base fee to the others
            rows.append(
                {
                    "grant_id": f"gr_{cid}_tokens",
                    "customer_id": cid,
                    "granted_at": cfg.start + dt.timedelta(days=5),
                    "credits": "4000",
                    "kind": "purchased",
                    "purchase_amount": "30.00",
                    "priority": 20,
                    "applies_to": "charge:tokens",
                }
            )
        if n % 3 == 1:  # 1,500 credits every month, burnt after the others, up to 500 kept
            rows.append(
                {
                    "grant_id": f"gr_{cid}_monthly",
                    "customer_id": cid,
                    "granted_at": cfg.start,
                    "credits": "1500",
                    "kind": "promotional",
                    "purchase_amount": "0",
                    "priority": 90,
                    "recurrence": "monthly",
                    "rollover_cap": "500",
                }
            )
    return pl.DataFrame([{**dict.fromkeys(GRANT_SCHEMA), **r} for r in rows], schema=GRANT_SCHEMA)


def credit_topups(subs: pl.DataFrame) -> pl.DataFrame:
    """An automatic top-up for the first customer on the Scale plan, who uses more than its
    credits: whenever its balance is at or below 2,500 credits, it is topped up to 10,000 at
    0.008 a credit, at most twice a month."""
    scale = subs.filter(pl.col("plan_id") == "scale")
    first = sorted(set(scale["customer_id"].to_list()))[:1]
    return pl.DataFrame(
        {
            "topup_id": [f"auto_{cid}" for cid in first],
            "customer_id": first,
            "threshold_credits": ["2500"] * len(first),
            "target_credits": ["10000"] * len(first),
            "price_per_credit": ["0.008"] * len(first),
            "max_per_period": ["2"] * len(first),
        },
        schema=dict.fromkeys(
            [
                "topup_id",
                "customer_id",
                "threshold_credits",
                "target_credits",
                "price_per_credit",
                "max_per_period",
            ],
            pl.String,
        ),
    )
