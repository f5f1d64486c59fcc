"""Reference data: customers, subscriptions, credit grants, billed invoices.

Parsed with declared types and validated across files; `lake.reference` reads them from
`landing/reference/*.csv`. A bad file is refused with an error naming the file, row and column,
before any usage is touched.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from transforms.grants import MONTHS_PER, grant_targets, target_problem
from transforms.money import is_currency, plain_quantity
from transforms.numbers import AMOUNT, PRICE, QUANTITY, DecimalKind, plain_decimals
from transforms.topups import DEFAULT_KIND as DEFAULT_TOPUP_KIND
from transforms.topups import DEFAULT_MAX_PER_PERIOD, MAX_PER_PERIOD


class ReferenceDataError(ValueError):
    """Reference data that breaks a rule; the message names file, row and column."""


REQUIRED = {
    "customers": ("customer_id", "currency"),
    "subscriptions": ("subscription_id", "customer_id", "plan_id", "started_at"),
    "credit_grants": ("grant_id", "customer_id", "granted_at", "credits", "kind"),
    "credit_topups": ("topup_id", "customer_id", "threshold_credits"),
    "billed_invoices": ("invoice_id", "customer_id", "period_start", "currency"),
    "budgets": ("customer_id", "monthly_budget"),
    "coupon_redemptions": ("redemption_id", "customer_id", "coupon_id", "redeemed_on"),
}
OPTIONAL_FILES = {
    "credit_grants",
    "credit_topups",
    "billed_invoices",
    "budgets",
    "coupon_redemptions",
}
DEFAULT_THRESHOLDS = "50;80;100"
DEFAULT_PRIORITY = 50
# Numbers are read exactly and must fit the warehouse's types (transforms.numbers): money of
# the billing system and of purchases is an amount (4 decimals); credits are a quantity.
KINDS: dict[str, DecimalKind] = {
    "credits": QUANTITY,
    "rollover_cap": QUANTITY,
    "threshold_credits": QUANTITY,
    "topup_credits": QUANTITY,
    "target_credits": QUANTITY,
    "price_per_credit": PRICE,
    "purchase_amount": AMOUNT,
    "subtotal": AMOUNT,
    "credits_applied": AMOUNT,
    "total": AMOUNT,
    "monthly_budget": AMOUNT,
    "tax_rate": PRICE,
}


def _parse_column(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name).str.strip_chars()
    col = pl.when(col == "").then(None).otherwise(col)
    if name in KINDS:
        return KINDS[name].parse_text(col).cast(dtype)
    if dtype == pl.Date:
        return col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    if isinstance(dtype, pl.Datetime):
        date_only = (
            col.str.to_date("%Y-%m-%d", strict=False)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
        iso = col.str.replace(r"[zZ]$", "+00:00").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us", time_zone="UTC"
        )
        return pl.coalesce(iso, date_only)
    if dtype == pl.String:
        return col
    return col.cast(dtype, strict=False)


def parse_reference(
    raw: pl.DataFrame, name: str, schema: dict[str, pl.DataType], file: str
) -> pl.DataFrame:
    """One reference file read as text, typed by `schema`; unparseable values are refused by
    row and column (row 2 is the first after the header)."""
    missing = [c for c in REQUIRED[name] if c not in raw.columns]
    if missing:
        raise ReferenceDataError(f"{file}: missing column {missing[0]!r}")
    # A column the contract does not name is refused, never dropped silently: a
    # misspelt `expires_on` would otherwise make every grant last forever.
    unknown = [c for c in raw.columns if c not in schema]
    if unknown:
        raise ReferenceDataError(
            f"{file}: column {unknown[0]!r} is not one tally reads "
            f"(the columns are: {', '.join(schema)})"
        )
    raw = raw.with_columns(pl.lit(None, pl.String).alias(c) for c in schema if c not in raw.columns)
    written = raw  # as in the file, for messages
    raw = raw.with_columns(plain_decimals(raw[c]) for c in schema if c in KINDS)
    parsed = raw.select(_parse_column(c, t).alias(c) for c, t in schema.items())
    for column, dtype in schema.items():
        bad = written.with_row_index("row", offset=2).filter(
            (pl.col(column).str.strip_chars().fill_null("") != "") & parsed[column].is_null()
        )
        if bad.height:
            first = bad.row(0, named=True)
            what = (
                f"{KINDS[column].name} ({KINDS[column].describe()})"
                if column in KINDS
                else str(dtype)
            )
            raise ReferenceDataError(
                f"{file}: row {first['row']}: {column}: {first[column]!r} is not a valid {what}"
            )
        if column in REQUIRED[name]:
            nulls = parsed.with_row_index("row", offset=2).filter(pl.col(column).is_null())
            if nulls.height:
                raise ReferenceDataError(f"{file}: row {nulls['row'][0]}: {column}: is required")
    for column in (c for c in schema if c.endswith("_id")):
        _fail_on(
            parsed,
            ~usable_as_name(pl.col(column)),
            file,
            column + ": {" + column + "!r} cannot be an id: ids name files and links, so an id "
            "is not '.' or '..' and holds no control characters",
        )
    return parsed


# C0 and C1 control characters and DEL: a file name or a link cannot carry them.
_CONTROL = r"[\x00-\x1F\x7F-\x9F]"


def usable_as_name(column: pl.Expr) -> pl.Expr:
    """Whether an id can become one path segment (a page, a document) once escaped: not `.` or
    `..`, and no control characters. Null (a missing optional id) passes."""
    return (~column.is_in([".", ".."]) & ~column.str.contains(_CONTROL)).fill_null(True)


def _fail_on(df: pl.DataFrame, condition: pl.Expr, file: str, message: str) -> None:
    bad = df.with_row_index("row", offset=2).filter(condition)
    if bad.height:
        row = bad.row(0, named=True)
        # numbers as a person writes them: -1, not the typed -1.000000000
        shown = {k: plain_quantity(v) if isinstance(v, Decimal) else v for k, v in row.items()}
        details = message.format(**shown)
        raise ReferenceDataError(f"{file}: row {row['row']}: {details}")


def validate_reference(
    tables: dict[str, pl.DataFrame],
    plans: pl.DataFrame,
    coupons: pl.DataFrame | None = None,
    charges: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Cross-checks that need more than one file: keys, currencies, plans, overlapping terms.
    `plans` is the price book's plans table (plan_id, plan_version, currency, source_file),
    `coupons` its coupons table (coupon_id, kind, currency; none: the book has no coupons),
    `charges` its charges table (charge_id; none: the book has no charges)."""
    customers = tables["customers"].with_columns(pl.col("currency").str.to_uppercase())
    _fail_on(
        customers,
        pl.col("customer_id").is_duplicated(),
        "customers.csv",
        "customer_id: {customer_id!r} appears twice",
    )
    _fail_on(
        customers,
        ~pl.col("currency").map_elements(is_currency, return_dtype=pl.Boolean),
        "customers.csv",
        "currency: {currency!r} is not an ISO 4217 currency code",
    )
    _fail_on(
        customers,
        (pl.col("tax_rate") < 0) | (pl.col("tax_rate") >= 1),
        "customers.csv",
        "tax_rate: {tax_rate} is not from 0 up to, not including, 1 (a fraction: 0.20 is 20 %)",
    )
    known = customers["customer_id"].implode()
    subs = tables["subscriptions"]
    _fail_on(
        subs,
        ~pl.col("customer_id").is_in(known),
        "subscriptions.csv",
        "customer_id: {customer_id!r} is not in customers.csv",
    )
    _fail_on(
        subs,
        pl.col("subscription_id").is_duplicated(),
        "subscriptions.csv",
        "subscription_id: {subscription_id!r} appears twice",
    )
    _fail_on(
        subs,
        ~pl.col("plan_id").is_in(plans["plan_id"].unique().implode()),
        "subscriptions.csv",
        "plan_id: {plan_id!r} is not a plan in the price book",
    )
    _fail_on(
        subs,
        pl.col("ended_at") <= pl.col("started_at"),
        "subscriptions.csv",
        "ended_at: {ended_at} is not after started_at {started_at}",
    )
    with_currency = subs.join(
        customers.select("customer_id", "currency"), on="customer_id", how="left"
    )
    plan_ccy = plans.select(
        "plan_id",
        "plan_version",
        pl.col("currency").alias("plan_currency"),
        pl.col("source_file").alias("plan_file"),
    )
    mismatched = with_currency.join(plan_ccy, on="plan_id", how="left").filter(
        pl.col("plan_currency") != pl.col("currency")
    )
    if mismatched.height:
        r = mismatched.row(0, named=True)
        raise ReferenceDataError(
            f"{r['plan_file']}: plan {r['plan_id']} v{r['plan_version']}: currency: "
            f"{r['plan_currency']} does not match customer {r['customer_id']}, who is billed in "
            f"{r['currency']} (subscriptions.csv: subscription {r['subscription_id']})"
        )
    far = dt.date(9999, 12, 31)
    overlap = (
        subs.with_columns(pl.col("ended_at").fill_null(far).alias("_end"))
        .join(
            subs.with_columns(pl.col("ended_at").fill_null(far).alias("_end")),
            on="customer_id",
            suffix="_b",
        )
        .filter(
            (pl.col("subscription_id") < pl.col("subscription_id_b"))
            & (pl.col("started_at") < pl.col("_end_b"))
            & (pl.col("started_at_b") < pl.col("_end"))
        )
    )
    if overlap.height:
        r = overlap.row(0, named=True)
        raise ReferenceDataError(
            f"subscriptions.csv: customer {r['customer_id']}: subscriptions {r['subscription_id']} and "
            f"{r['subscription_id_b']} overlap; a customer has at most one active subscription a day"
        )
    grants = tables["credit_grants"].with_columns(
        pl.col("kind").str.to_lowercase(),
        pl.col("priority").fill_null(DEFAULT_PRIORITY),
        pl.col("purchase_amount").fill_null(pl.lit(0).cast(AMOUNT.dtype)),
    )
    _fail_on(
        grants,
        pl.col("grant_id").is_duplicated(),
        "credit_grants.csv",
        "grant_id: {grant_id!r} appears twice",
    )
    _fail_on(
        grants,
        ~pl.col("customer_id").is_in(known),
        "credit_grants.csv",
        "customer_id: {customer_id!r} is not in customers.csv",
    )
    _fail_on(
        grants,
        ~pl.col("kind").is_in(["purchased", "promotional"]),
        "credit_grants.csv",
        "kind: {kind!r} is not purchased or promotional",
    )
    _fail_on(grants, pl.col("credits") < 0, "credit_grants.csv", "credits: {credits} is negative")
    _fail_on(
        grants,
        pl.col("purchase_amount") < 0,
        "credit_grants.csv",
        "purchase_amount: {purchase_amount} is negative",
    )
    _fail_on(
        grants,
        pl.col("expires_at") <= pl.col("granted_at"),
        "credit_grants.csv",
        "expires_at: {expires_at} is not after granted_at {granted_at}",
    )
    grants = grants.with_columns(pl.col("recurrence").str.to_lowercase())
    _fail_on(
        grants,
        pl.col("recurrence").is_not_null() & ~pl.col("recurrence").is_in(list(MONTHS_PER)),
        "credit_grants.csv",
        "recurrence: {recurrence!r} is not monthly, quarterly or yearly",
    )
    _fail_on(
        grants,
        pl.col("recurrence_ends_at").is_not_null() & pl.col("recurrence").is_null(),
        "credit_grants.csv",
        "recurrence_ends_at: set on a grant without a recurrence",
    )
    _fail_on(
        grants,
        pl.col("recurrence_ends_at") <= pl.col("granted_at"),
        "credit_grants.csv",
        "recurrence_ends_at: {recurrence_ends_at} is not after granted_at {granted_at}",
    )
    _fail_on(
        grants,
        pl.col("rollover_cap") < 0,
        "credit_grants.csv",
        "rollover_cap: {rollover_cap} is negative",
    )
    grants = _grant_targets(grants, charges)
    billed = tables["billed_invoices"].with_columns(pl.col("currency").str.to_uppercase())
    redemptions = _redemptions(tables["coupon_redemptions"], customers, coupons)
    return {
        "customers": customers,
        "subscriptions": subs,
        "credit_grants": grants,
        "credit_topups": _topups(tables["credit_topups"], known),
        "billed_invoices": billed,
        "budgets": _budget_thresholds(tables["budgets"], known),
        "coupon_redemptions": redemptions,
    }


def _grant_targets(grants: pl.DataFrame, charges: pl.DataFrame | None) -> pl.DataFrame:
    """credit_grants.csv's `applies_to` checked against the price book's charges and written
    as its entries joined by `;` (null: the grant pays anything)."""
    charge_ids = set() if charges is None else set(charges["charge_id"].to_list())
    written = []
    for row, text in enumerate(grants["applies_to"].to_list(), start=2):
        entries = grant_targets(text)
        for entry in entries:
            problem = target_problem(entry, charge_ids)
            if problem:
                raise ReferenceDataError(f"credit_grants.csv: row {row}: applies_to: {problem}")
        written.append(";".join(entries) or None)
    return grants.with_columns(pl.Series("applies_to", written, dtype=pl.String))


def _topups(topups: pl.DataFrame, known: pl.Series) -> pl.DataFrame:
    """credit_topups.csv with its defaults, checked (transforms/topups.py)."""
    file = "credit_topups.csv"
    topups = topups.with_columns(
        pl.col("kind").str.to_lowercase().fill_null(DEFAULT_TOPUP_KIND),
        pl.col("priority").fill_null(DEFAULT_PRIORITY),
        pl.col("max_per_period").fill_null(DEFAULT_MAX_PER_PERIOD),
    )
    fixed, target = pl.col("topup_credits"), pl.col("target_credits")
    checks = [
        (pl.col("topup_id").is_duplicated(), "topup_id: {topup_id!r} appears twice"),
        (
            ~pl.col("customer_id").is_in(known),
            "customer_id: {customer_id!r} is not in customers.csv",
        ),
        (
            ~pl.col("kind").is_in(["purchased", "promotional"]),
            "kind: {kind!r} is not purchased or promotional",
        ),
        (
            fixed.is_null() == target.is_null(),
            "topup_credits, target_credits: set exactly one (a fixed top-up, or a balance to top "
            "up to)",
        ),
        (pl.col("threshold_credits") < 0, "threshold_credits: {threshold_credits} is negative"),
        (fixed <= 0, "topup_credits: {topup_credits} is not above 0"),
        (
            target <= pl.col("threshold_credits"),
            "target_credits: {target_credits} is not above threshold_credits {threshold_credits}",
        ),
        (
            ~pl.col("max_per_period").is_between(1, MAX_PER_PERIOD),
            "max_per_period: {max_per_period} is not from 1 to " + str(MAX_PER_PERIOD),
        ),
        (pl.col("price_per_credit") < 0, "price_per_credit: {price_per_credit} is negative"),
        (
            (pl.col("kind") == "purchased") & pl.col("price_per_credit").is_null(),
            "price_per_credit: is required for a purchased top-up",
        ),
        (
            pl.col("ends_on") <= pl.col("starts_on"),
            "ends_on: {ends_on} is not after starts_on {starts_on}",
        ),
    ]
    for condition, message in checks:
        _fail_on(topups, condition, file, message)
    far_past, far = dt.date(1, 1, 1), dt.date(9999, 12, 31)
    spans = topups.with_row_index("row", offset=2).select(
        "row",
        "topup_id",
        "customer_id",
        pl.col("starts_on").fill_null(far_past).alias("_from"),
        pl.col("ends_on").fill_null(far).alias("_to"),
    )
    overlap = spans.join(spans, on="customer_id", suffix="_b").filter(
        (pl.col("row") > pl.col("row_b"))
        & (pl.col("_from") < pl.col("_to_b"))
        & (pl.col("_from_b") < pl.col("_to"))
    )
    if overlap.height:
        r = overlap.sort("row").row(0, named=True)
        raise ReferenceDataError(
            f"{file}: row {r['row']}: topup_id {r['topup_id']!r} is in force on days "
            f"{r['topup_id_b']!r} is, for customer {r['customer_id']!r}; a customer has at most "
            "one top-up rule at a time"
        )
    return topups.with_columns(pl.col("price_per_credit").fill_null(0))


def _redemptions(
    redemptions: pl.DataFrame, customers: pl.DataFrame, coupons: pl.DataFrame | None
) -> pl.DataFrame:
    """coupon_redemptions.csv checked against the customers and the price book's coupons."""
    file = "coupon_redemptions.csv"
    coupons = (
        coupons
        if coupons is not None
        else pl.DataFrame(schema={"coupon_id": pl.String, "kind": pl.String, "currency": pl.String})
    )
    _fail_on(
        redemptions,
        pl.col("redemption_id").is_duplicated(),
        file,
        "redemption_id: {redemption_id!r} appears twice",
    )
    _fail_on(
        redemptions,
        ~pl.col("customer_id").is_in(customers["customer_id"].implode()),
        file,
        "customer_id: {customer_id!r} is not in customers.csv",
    )
    _fail_on(
        redemptions,
        ~pl.col("coupon_id").is_in(coupons["coupon_id"].implode()),
        file,
        "coupon_id: {coupon_id!r} is not a coupon of the price book",
    )
    priced = redemptions.join(
        customers.select("customer_id", pl.col("currency").alias("customer_currency")),
        on="customer_id",
        how="left",
    ).join(coupons.select("coupon_id", "kind", "currency"), on="coupon_id", how="left")
    _fail_on(
        priced,
        (pl.col("kind") == "amount") & (pl.col("currency") != pl.col("customer_currency")),
        file,
        "coupon_id: {coupon_id!r} is an amount in {currency}, but customer {customer_id!r} "
        "is billed in {customer_currency}",
    )
    return redemptions


def _budget_thresholds(budgets: pl.DataFrame, known: pl.Series) -> pl.DataFrame:
    """budgets.csv one row per customer and threshold percent (`50;80;100` by default)."""
    file = "budgets.csv"
    _fail_on(
        budgets,
        pl.col("customer_id").is_duplicated(),
        file,
        "customer_id: {customer_id!r} appears twice",
    )
    _fail_on(
        budgets,
        ~pl.col("customer_id").is_in(known),
        file,
        "customer_id: {customer_id!r} is not in customers.csv",
    )
    _fail_on(
        budgets,
        pl.col("monthly_budget") <= 0,
        file,
        "monthly_budget: {monthly_budget} is not above 0",
    )
    split = (
        budgets.with_row_index("row", offset=2)
        .with_columns(pl.col("thresholds").fill_null(DEFAULT_THRESHOLDS).str.split(";"))
        .explode("thresholds")
        .with_columns(pl.col("thresholds").str.strip_chars())
        .with_columns(pl.col("thresholds").cast(pl.Int32, strict=False).alias("threshold_pct"))
    )
    bad = split.filter(
        pl.col("threshold_pct").is_null() | ~pl.col("threshold_pct").is_between(1, 1000)
    )
    if bad.height:
        r = bad.row(0, named=True)
        raise ReferenceDataError(
            f"{file}: row {r['row']}: thresholds: {r['thresholds']!r} is not a whole percent from "
            "1 to 1000 (write them as 50;80;100)"
        )
    return (
        split.select("customer_id", "monthly_budget", "threshold_pct")
        .unique()
        .sort("customer_id", "threshold_pct")
    )
