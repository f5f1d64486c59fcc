"""The price book on disk: `pricing/*.yaml` read together, and flattened for the warehouse
(`lake/pricing/<table>.parquet`)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

from lake.home import Home
from lake.io import write_table
from lake.schemas import PRICE_BOOK_SCHEMAS
from transforms.price_terms import CreditAllocation
from transforms.pricebook import MAX_FILE_BYTES, PriceBook, PriceBookError, parse_price_book
from transforms.units import charge_unit


def price_book_files(pricing_dir: Path) -> list[Path]:
    """The price book's files: the `*.yaml` (`*.yml`) directly in the folder. A folder inside
    it that holds price-book files is refused (a copy made twice, `cp -r pricing candidate`,
    nests one): its plans would otherwise be left out without a word."""
    for nested in (
        sorted(p for p in pricing_dir.iterdir() if p.is_dir()) if pricing_dir.is_dir() else []
    ):
        inside = sorted([*nested.rglob("*.yaml"), *nested.rglob("*.yml")])
        if inside:
            raise PriceBookError(
                f"{pricing_dir.name}/{nested.name}/: a folder of price-book files inside the "
                f"price book ({inside[0].relative_to(pricing_dir).as_posix()}); only the "
                f"*.yaml files directly in {pricing_dir.name}/ are read: move them up or "
                "remove the folder"
            )
    return sorted([*pricing_dir.glob("*.yaml"), *pricing_dir.glob("*.yml")])


def load_price_book(files: list[Path], *, base: Path | None = None) -> PriceBook:
    """Read and validate every price-book file together (names relative to `base`); raise
    PriceBookError on the first fault. A file over the size limit is refused unread."""
    documents = []
    for path in files:
        name = path.relative_to(base).as_posix() if base else path.name
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PriceBookError(f"{name}: larger than {MAX_FILE_BYTES:,} bytes; not a price book")
        try:
            documents.append((name, path.read_text(encoding="utf-8")))
        except UnicodeDecodeError as exc:
            raise PriceBookError(f"{name}: not UTF-8 text: {exc}") from None
    return parse_price_book(documents)


def price_book_tables(book: PriceBook) -> dict[str, pl.DataFrame]:
    """Flatten the price book into the tables the warehouse reads (lake/pricing/*.parquet)."""
    plans, charges, tiers, statuses, props = [], [], [], [], []
    group_prices, group_matches = [], []
    for p in book.plans:
        key = {"plan_id": p.plan_id, "plan_version": p.version}
        plans.append(
            {
                **key,
                "effective_from": p.effective_from,
                "currency": p.currency,
                "base_fee": p.base_fee,
                "minimum_commitment": p.minimum_commitment,
                "maximum_commitment": p.maximum_commitment,
                "credit_rate": p.credit_rate,
                "tax_rate": p.tax_rate,
                "source_file": p.source_file,
                "name": p.name,
                **_allocation_columns(p.credit_allocation),
                "billing_interval": p.billing_interval,
                "billing_anchor": p.billing_anchor,
                "base_fee_timing": p.base_fee_timing,
                "usage_invoicing": p.usage_invoicing,
            }
        )
        for c in p.charges:
            ckey = {**key, "charge_id": c.charge_id}
            charges.append(
                {
                    **ckey,
                    "metric": c.metric,
                    "aggregation": c.aggregation,
                    "unique_property": c.unique_property,
                    "recurring": c.recurring,
                    "bucket": c.bucket,
                    **{
                        f"group_by_{i + 1}": k
                        for i, k in enumerate(sorted(c.group_by) + [None] * (3 - len(c.group_by)))
                    },
                    "model": c.model,
                    "unit_price": c.unit_price,
                    "free_units": c.free_units,
                    "package_size": c.package_size,
                    "package_price": c.package_price,
                    "rate": c.rate,
                    "fixed_fee": c.fixed_fee,
                    "free_events": c.free_events,
                    "free_amount": c.free_amount,
                    "per_event_min": c.per_event_min,
                    "per_event_max": c.per_event_max,
                    "rounding": c.rounding if c.model == "package" else None,
                    "minimum": c.minimum,
                    "maximum": c.maximum,
                    "has_status_filter": bool(c.status_ranges),
                    "property_filter_count": len(c.property_filters),
                    "description": c.description,
                    "tax_rate": c.tax_rate,
                    "unit": charge_unit(
                        unit=c.unit,
                        model=c.model,
                        aggregation=c.aggregation,
                        metric=c.metric,
                        unique_property=c.unique_property,
                        currency=p.currency,
                    ),
                }
            )
            tiers.extend(_tier_rows(ckey, 0, c.tiers))
            for index, group in enumerate(c.group_prices, start=1):
                price = group.price
                group_prices.append(
                    {
                        **ckey,
                        "price_index": index,
                        "model": price.model,
                        "unit_price": price.unit_price,
                        "free_units": price.free_units,
                        "package_size": price.package_size,
                        "package_price": price.package_price,
                        "rate": price.rate,
                        "fixed_fee": price.fixed_fee,
                        "free_events": price.free_events,
                        "free_amount": price.free_amount,
                        "per_event_min": price.per_event_min,
                        "per_event_max": price.per_event_max,
                        "rounding": price.rounding if price.model == "package" else None,
                    }
                )
                tiers.extend(_tier_rows(ckey, index, price.tiers))
                group_matches.extend(
                    {**ckey, "price_index": index, "property_key": k, "property_value": v}
                    for k, values in group.match
                    for v in values
                )
            for lo, hi in c.status_ranges:
                statuses.append({**ckey, "status_from": lo, "status_to": hi})
            for prop, values in c.property_filters:
                props.extend({**ckey, "property_key": prop, "property_value": v} for v in values)
    rows = {
        "plans": plans,
        "charges": charges,
        "charge_tiers": tiers,
        "charge_group_prices": group_prices,
        "charge_group_matches": group_matches,
        "charge_status_filters": statuses,
        "charge_property_filters": props,
        "coupons": [
            {
                "coupon_id": c.coupon_id,
                "kind": c.kind,
                "percent": c.percent,
                "amount": c.amount,
                "currency": c.currency,
                "duration_months": c.duration_months,
                "limited": c.applies_to is not None,
                "order_class": c.order_class,
                "source_file": c.source_file,
            }
            for c in book.coupons
        ],
        "coupon_targets": [
            {"coupon_id": c.coupon_id, "target": t}
            for c in book.coupons
            for t in c.applies_to or ()
        ],
    }
    return {
        name: pl.DataFrame(rows[name], schema=schema) for name, schema in PRICE_BOOK_SCHEMAS.items()
    }


def _allocation_columns(allocation: CreditAllocation | None) -> dict:
    if allocation is None:
        return {
            "allocation_credits": None,
            "allocation_rollover_cap": None,
            "allocation_priority": None,
        }
    return {
        "allocation_credits": allocation.credits,
        "allocation_rollover_cap": allocation.rollover_cap,
        "allocation_priority": allocation.priority,
    }


def _tier_rows(key: dict, price_index: int, tiers) -> list[dict]:
    """A price's tiers, each with its lower bound (the tier before's up_to)."""
    rows, lower = [], Decimal(0)
    for i, t in enumerate(tiers):
        rows.append(
            {
                **key,
                "price_index": price_index,
                "tier_index": i + 1,
                "lower_bound": lower,
                "up_to": t.up_to,
                "unit_price": t.unit_price,
                "package_size": t.package_size,
                "package_price": t.package_price,
                "rate": t.rate,
                "flat_fee": t.flat_fee,
            }
        )
        lower = t.up_to if t.up_to is not None else lower
    return rows


def signed_metrics(charges: pl.DataFrame) -> list[str]:
    """The signed metrics of the lake's charges table: those a weighted_sum charge prices, whose
    negative quantities (changes of a level) are accepted (PriceBook.signed_metrics, read
    back from the lake)."""
    return sorted(charges.filter(pl.col("aggregation") == "weighted_sum")["metric"].unique())


def write_price_book(home: Home) -> tuple[PriceBook, dict[str, pl.DataFrame]]:
    """Validate the home's price book and write its tables to the lake (lake/pricing/); the
    book and the tables. Refused whole (PriceBookError) before anything is written."""
    book = load_price_book(price_book_files(home.pricing), base=home.root)
    tables = price_book_tables(book)
    for name, df in tables.items():
        write_table(df, home.lake_pricing / f"{name}.parquet")
    return book, tables
