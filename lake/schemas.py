"""Every table the lake holds, and the named fixed-point types of its numbers.

The warehouse reads these tables (dbt sources); its SQL types mirror the named types here
(`dbt_project/macros/money.sql`).
"""

from __future__ import annotations

import polars as pl

from transforms.numbers import AMOUNT, FEE, PRICE, QUANTITY

# Named fixed-point types, one per kind of number (their limits: transforms.numbers).
QUANTITY_TYPE = QUANTITY.dtype
PRICE_TYPE = PRICE.dtype
FEE_TYPE = FEE.dtype
AMOUNT_TYPE = AMOUNT.dtype


# --- usage: lake/events, lake/quarantine, lake/ingested_files --------------------------------

EVENT_SCHEMA = {
    "event_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "customer_id": pl.String,
    "metric": pl.String,
    "quantity": QUANTITY_TYPE,
    "status": pl.Int32,
    "properties": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "batch_id": pl.String,
}
# What each committed batch added to each event date: the nightly build rebuilds exactly the
# dates whose recorded count its daily aggregate does not hold yet, and takes "as of" from here.
BATCH_DAYS_SCHEMA = {
    "batch_id": pl.String,
    "event_date": pl.Date,
    "events": pl.Int64,
    "last_occurred_at": pl.Datetime("us", "UTC"),
}
QUARANTINE_SCHEMA = {
    "file_path": pl.String,
    "row_number": pl.Int64,
    "reason": pl.String,
    "raw_record": pl.String,
    "batch_id": pl.String,
}
FILES_SCHEMA = {
    "file_path": pl.String,
    "content_sha256": pl.String,
    "rows_read": pl.Int64,
    "rows_accepted": pl.Int64,
    "rows_quarantined": pl.Int64,
    "duplicates_dropped": pl.Int64,
    "status": pl.String,
    "error": pl.String,
    "ingested_at": pl.Datetime("us", "UTC"),
    "batch_id": pl.String,
    # The file as it was read (null for a refused entry): a later run that finds the same name,
    # size and modification time takes it as known without reading or hashing it again.
    "size_bytes": pl.Int64,
    "modified_ns": pl.Int64,
}

# --- reference data: lake/reference/<name>.parquet -------------------------------------------

REFERENCE_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "customers": {
        "customer_id": pl.String,
        "name": pl.String,
        "currency": pl.String,
        "created_at": pl.Datetime("us", "UTC"),
        # Optional: the customer's tax rate, a fraction (0.20); empty = 0. A plan's or a
        # charge's rate in the price book overrides it.
        "tax_rate": PRICE_TYPE,
        # Optional: printed on invoice documents (the address's lines as written).
        "billing_address": pl.String,
        "tax_id": pl.String,
    },
    "subscriptions": {
        "subscription_id": pl.String,
        "customer_id": pl.String,
        "plan_id": pl.String,
        "started_at": pl.Date,
        "ended_at": pl.Date,
    },
    "credit_grants": {
        "grant_id": pl.String,
        "customer_id": pl.String,
        "granted_at": pl.Date,
        "credits": QUANTITY_TYPE,
        "kind": pl.String,
        "purchase_amount": AMOUNT_TYPE,
        "expires_at": pl.Date,
        "priority": pl.Int32,
        # `;`-separated: base_fee, usage, charge:<charge_id>; empty: the grant pays anything
        "applies_to": pl.String,
        "recurrence": pl.String,  # monthly | quarterly | yearly: a row that yields instances
        "recurrence_ends_at": pl.Date,  # no instance starts on or after it
        "rollover_cap": QUANTITY_TYPE,  # credits kept across a boundary
    },
    # automatic top-ups (transforms/topups.py): exactly one of topup_credits, target_credits
    "credit_topups": {
        "topup_id": pl.String,
        "customer_id": pl.String,
        "threshold_credits": QUANTITY_TYPE,
        "topup_credits": QUANTITY_TYPE,
        "target_credits": QUANTITY_TYPE,
        "price_per_credit": PRICE_TYPE,
        "kind": pl.String,
        "priority": pl.Int32,
        "starts_on": pl.Date,
        "ends_on": pl.Date,
        "max_per_period": pl.Int32,
    },
    "billed_invoices": {
        "invoice_id": pl.String,
        "customer_id": pl.String,
        "period_start": pl.Date,
        "currency": pl.String,
        "subtotal": AMOUNT_TYPE,
        "credits_applied": AMOUNT_TYPE,
        "total": AMOUNT_TYPE,
    },
    # Optional: a monthly budget per customer and the percents to notify at.
    "budgets": {
        "customer_id": pl.String,
        "monthly_budget": AMOUNT_TYPE,
        "thresholds": pl.String,
    },
    # Optional: who redeemed which coupon of the price book, and when.
    "coupon_redemptions": {
        "redemption_id": pl.String,
        "customer_id": pl.String,
        "coupon_id": pl.String,
        "redeemed_on": pl.Date,
    },
}
# The lake keeps budgets one row per threshold (`thresholds` split), as the warehouse reads them.
BUDGET_SCHEMA = {"customer_id": pl.String, "monthly_budget": AMOUNT_TYPE, "threshold_pct": pl.Int32}

# --- the price book, flattened: lake/pricing/<name>.parquet ----------------------------------

_PLAN_KEY = {"plan_id": pl.String, "plan_version": pl.Int32}
_CHARGE_KEY = {**_PLAN_KEY, "charge_id": pl.String}
PRICE_BOOK_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "plans": {
        **_PLAN_KEY,
        "effective_from": pl.Date,
        "currency": pl.String,
        "base_fee": FEE_TYPE,
        "minimum_commitment": FEE_TYPE,
        "maximum_commitment": FEE_TYPE,  # spend cap on usage per period
        "credit_rate": PRICE_TYPE,
        "tax_rate": PRICE_TYPE,  # overrides the customer's for the plan's items
        "source_file": pl.String,
        "name": pl.String,
        # credit_allocation: promotional credits each billing period of a subscription
        "allocation_credits": QUANTITY_TYPE,
        "allocation_rollover_cap": QUANTITY_TYPE,
        "allocation_priority": pl.Int32,
        # the billing cadence (transforms/cadence.py), the same in every version of a plan
        "billing_interval": pl.String,
        "billing_anchor": pl.String,
        "base_fee_timing": pl.String,
        "usage_invoicing": pl.String,
    },
    "charges": {
        **_CHARGE_KEY,
        "metric": pl.String,
        "aggregation": pl.String,
        "unique_property": pl.String,
        "recurring": pl.Boolean,  # the scope reaches back over earlier periods
        "bucket": pl.String,  # hour or day: max or sum per UTC bucket, each priced alone
        # group_by, sorted: one usage line per tuple of these properties' values
        "group_by_1": pl.String,
        "group_by_2": pl.String,
        "group_by_3": pl.String,
        "model": pl.String,
        "unit_price": PRICE_TYPE,
        "free_units": QUANTITY_TYPE,
        "package_size": QUANTITY_TYPE,
        "package_price": FEE_TYPE,
        "rate": PRICE_TYPE,
        "fixed_fee": FEE_TYPE,
        "free_events": pl.Int32,  # percentage: the first events that are free
        "free_amount": QUANTITY_TYPE,  # and the first amount that is free
        "per_event_min": FEE_TYPE,  # what each paying event bills at least
        "per_event_max": FEE_TYPE,  # and at most
        "rounding": pl.String,  # package: up (a part package is a whole one) or down
        "minimum": FEE_TYPE,  # the charge's minimum spend per period
        "maximum": FEE_TYPE,  # its spend cap per period
        "has_status_filter": pl.Boolean,
        "property_filter_count": pl.Int32,
        "description": pl.String,
        "tax_rate": PRICE_TYPE,  # overrides the plan's and the customer's for the charge
        "unit": pl.String,  # as shown: the price book's, else the one its measure implies
    },
    "charge_tiers": {
        **_CHARGE_KEY,
        "price_index": pl.Int32,  # 0: the charge's own price; i: its group price i
        "tier_index": pl.Int32,
        "lower_bound": QUANTITY_TYPE,
        "up_to": QUANTITY_TYPE,
        "unit_price": PRICE_TYPE,
        "package_size": QUANTITY_TYPE,  # a tier priced in whole packages
        "package_price": FEE_TYPE,
        "rate": PRICE_TYPE,  # graduated_percentage: a fraction of the amount
        "flat_fee": FEE_TYPE,
    },
    # A grouped charge's group prices (price_index from 1, first match wins): a whole price each.
    "charge_group_prices": {
        **_CHARGE_KEY,
        "price_index": pl.Int32,
        "model": pl.String,
        "unit_price": PRICE_TYPE,
        "free_units": QUANTITY_TYPE,
        "package_size": QUANTITY_TYPE,
        "package_price": FEE_TYPE,
        "rate": PRICE_TYPE,
        "fixed_fee": FEE_TYPE,
        "free_events": pl.Int32,
        "free_amount": QUANTITY_TYPE,
        "per_event_min": FEE_TYPE,
        "per_event_max": FEE_TYPE,
        "rounding": pl.String,
    },
    # What a group price matches: each property one of its values.
    "charge_group_matches": {
        **_CHARGE_KEY,
        "price_index": pl.Int32,
        "property_key": pl.String,
        "property_value": pl.String,
    },
    "charge_status_filters": {**_CHARGE_KEY, "status_from": pl.Int32, "status_to": pl.Int32},
    "charge_property_filters": {
        **_CHARGE_KEY,
        "property_key": pl.String,
        "property_value": pl.String,
    },
    # Coupons (redeemed in landing/reference/coupon_redemptions.csv): a percentage of what
    # their items hold, or an amount in a currency, for duration_months (null: forever).
    "coupons": {
        "coupon_id": pl.String,
        "kind": pl.String,
        "percent": PRICE_TYPE,
        "amount": FEE_TYPE,
        "currency": pl.String,
        "duration_months": pl.Int32,
        "limited": pl.Boolean,  # applies to the items coupon_targets lists, else to every item
        "order_class": pl.Int32,  # 0 limited to charges, 1 limited otherwise, 2 unlimited
        "source_file": pl.String,
    },
    # What a limited coupon applies to: base_fee, usage or charge:<charge_id>.
    "coupon_targets": {"coupon_id": pl.String, "target": pl.String},
}

# --- the issued store: lake/issued/<table>/period=YYYY-MM.parquet, written once --------------

ISSUED_INVOICE_SCHEMA = {
    "invoice_id": pl.String,
    # Consecutive over every issued invoice of the home, in issue order; never reused.
    "invoice_number": pl.Int64,
    # An invoice whose subtotal is negative owes the customer that amount: it is issued with a
    # credit note, numbered in a consecutive series of its own. Null for the others.
    "credit_note_number": pl.Int64,
    "customer_id": pl.String,
    # The customer's name when the invoice was issued (the document never changes), and its
    # billing address and tax id then.
    "customer_name": pl.String,
    "customer_billing_address": pl.String,
    "customer_tax_id": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "currency": pl.String,
    "subtotal": AMOUNT_TYPE,
    "tax": AMOUNT_TYPE,  # the sum of the items' taxes, each rounded on its own
    "credits_applied": AMOUNT_TYPE,
    "total": AMOUNT_TYPE,  # subtotal + tax - credits_applied, never below 0
    "issued_at": pl.Datetime("us", "UTC"),
    "due_date": pl.Date,
}
ISSUED_LINE_SCHEMA = {
    "invoice_line_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "line_type": pl.String,
    "charge_id": pl.String,
    "group_key": pl.String,  # a grouped charge's usage line: its group, as JSON
    "quantity": QUANTITY_TYPE,
    "amount": AMOUNT_TYPE,
    "currency": pl.String,
    # The pricing that produced the line, so a later re-rating can tell a price change apart.
    "plan_id": pl.String,
    "plan_version": pl.Int64,
    # The rate the line's item was taxed at (an adjustment: the rate of what it adjusts).
    "tax_rate": PRICE_TYPE,
    "coupon_id": pl.String,  # a discount line: its coupon
    # A rated line's billing period's days, that its fee is prorated over (null on lines of
    # closes before cadences, whose periods were calendar months)
    "period_days": pl.Int32,
    # The days a rated line is for: its segment's, or a base fee's paid in advance (the next
    # period; unused days credited). Null on adjustments, discounts and older closes' lines.
    "service_period_start": pl.Date,
    "service_period_end": pl.Date,  # exclusive
}
# Each issued invoice as items (what coupons, tax and credits worked on), frozen at close: an
# item's discounts came from coupon terms that may change later.
ISSUED_ITEM_SCHEMA = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "item": pl.String,
    "item_order": pl.Int32,
    "amount": AMOUNT_TYPE,
    "tax_rate": PRICE_TYPE,
    "tax": AMOUNT_TYPE,
    "currency": pl.String,
    "credits_applied": AMOUNT_TYPE,  # what credits paid of the item's due (null: issued before)
}
ISSUED_CONSUMPTION_SCHEMA = {
    "entry_id": pl.String,
    "grant_id": pl.String,
    "customer_id": pl.String,
    "invoice_id": pl.String,
    "period_start": pl.Date,
    "entry_date": pl.Date,
    "credits": QUANTITY_TYPE,
    "money": AMOUNT_TYPE,
    "revenue": AMOUNT_TYPE,
    "discount": AMOUNT_TYPE,
    # What the draw paid of the invoice's tax (credits pay the subtotal first), and for a
    # purchased grant the cost basis that moved to tax payable instead of revenue.
    "tax_money": AMOUNT_TYPE,
    "deferred_to_tax": AMOUNT_TYPE,
}
# A grant's balance once every period it could pay is closed (transforms.credits.Rollover):
# credits carried into the next instance of a recurring grant, credits that expire, and the
# deferred revenue of each (purchased grants). Written by the close of `period_start`.
ISSUED_ROLLOVER_SCHEMA = {
    "entry_id": pl.String,
    "grant_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "entry_date": pl.Date,
    "to_grant_id": pl.String,
    "carried": QUANTITY_TYPE,
    "expired": QUANTITY_TYPE,
    "moved": AMOUNT_TYPE,
    "breakage": AMOUNT_TYPE,
}

# Top-ups close made (transforms/topups.py): grants of credits for the payment system to charge.
ISSUED_TOPUP_SCHEMA = {
    "topup_grant_id": pl.String,
    "topup_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "created_on": pl.Date,
    "credits": QUANTITY_TYPE,
    "purchase_amount": AMOUNT_TYPE,
    "currency": pl.String,
    "kind": pl.String,
    "priority": pl.Int32,
}

CURRENCY_SCHEMA = {"currency": pl.String, "minor_units": pl.Int32}

# Spend notifications as raised: the columns of marts.fct_spend_notifications, then
# when the webhook took it (null: not delivered yet, or no webhook when it was raised).
NOTIFICATION_SCHEMA = {
    "notification_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    # the period's end (exclusive), what its text names; null on notifications raised before
    # billing cadences (calendar months) and on top-ups
    "period_end": pl.Date,
    "kind": pl.String,
    "threshold_pct": pl.Int32,
    "amount": AMOUNT_TYPE,
    "budget": AMOUNT_TYPE,
    "currency": pl.String,
    "as_of": pl.Date,
    "sent_at": pl.Datetime("us", "UTC"),
    "webhook_delivered_at": pl.Datetime("us", "UTC"),
}

# Every lake table the warehouse reads, by dbt source (`source_name.table`). The dbt sources
# declare the same columns with their SQL types (models/staging/_sources.yml): Spark reads the
# lake through tables created from them, and a test keeps the two alike.
SOURCE_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "lake.usage_events": {**EVENT_SCHEMA, "event_date": pl.Date},
    "lake.quarantined_events": QUARANTINE_SCHEMA,
    "lake.ingested_files": FILES_SCHEMA,
    "lake.batch_days": BATCH_DAYS_SCHEMA,
    **{f"reference.{name}": schema for name, schema in REFERENCE_SCHEMAS.items()},
    "reference.budgets": BUDGET_SCHEMA,
    "reference.currencies": CURRENCY_SCHEMA,
    **{f"pricing.{name}": schema for name, schema in PRICE_BOOK_SCHEMAS.items()},
    "issued.invoices": ISSUED_INVOICE_SCHEMA,
    "issued.invoice_lines": ISSUED_LINE_SCHEMA,
    "issued.invoice_items": ISSUED_ITEM_SCHEMA,
    "issued.credit_consumption": ISSUED_CONSUMPTION_SCHEMA,
    "issued.credit_rollovers": ISSUED_ROLLOVER_SCHEMA,
    "issued.credit_topups": ISSUED_TOPUP_SCHEMA,
    "lake.spend_notifications": NOTIFICATION_SCHEMA,
}
