"""Reading reference data from `landing/reference/*.csv`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from lake.home import Home
from lake.io import write_table
from lake.records import write_text_atomically
from lake.schemas import REFERENCE_SCHEMAS
from transforms.money import currency_table
from transforms.reference import (
    OPTIONAL_FILES,
    ReferenceDataError,
    parse_reference,
    validate_reference,
)
from transforms.seller import FILE as SELLER_FILE
from transforms.seller import Seller, parse_seller


def read_reference(path: Path, name: str) -> pl.DataFrame:
    """Read one reference CSV with its declared types; refuse unparseable values by row and column."""
    schema = REFERENCE_SCHEMAS[name]
    if not path.exists():
        if name in OPTIONAL_FILES:
            return pl.DataFrame(schema=schema)
        raise ReferenceDataError(f"{path.name}: required reference file is missing")
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise ReferenceDataError(f"{path.name}: not a readable CSV file: {exc}") from None
    return parse_reference(raw, name, schema, path.name)


def load_reference(
    landing_reference: Path,
    plans: pl.DataFrame,
    coupons: pl.DataFrame | None = None,
    charges: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Every reference file, typed and cross-validated against each other and the price book's
    plans, coupons and charges tables (`lake.price_book.price_book_tables`)."""
    tables = {
        name: read_reference(landing_reference / f"{name}.csv", name) for name in REFERENCE_SCHEMAS
    }
    return validate_reference(tables, plans, coupons, charges)


def load_seller(landing_reference: Path) -> Seller | None:
    """The seller's profile (`seller.yaml`, optional), validated; None without one."""
    path = landing_reference / SELLER_FILE
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(f"{SELLER_FILE}: not UTF-8 text: {exc}") from None
    return parse_seller(text)


def write_reference(home: Home) -> dict[str, pl.DataFrame]:
    """Validate the home's reference files against the lake's price book (written first) and
    write them, with the ISO currencies and the seller's profile, to the lake
    (lake/reference/); the tables."""
    plans = pl.read_parquet(home.lake_pricing / "plans.parquet")
    coupons = pl.read_parquet(home.lake_pricing / "coupons.parquet")
    charges = pl.read_parquet(home.lake_pricing / "charges.parquet", columns=["charge_id"])
    tables = {
        **load_reference(home.landing_reference, plans, coupons, charges),
        "currencies": currency_table(),
    }
    seller = load_seller(home.landing_reference)
    for name, df in tables.items():
        write_table(df, home.lake_reference / f"{name}.parquet")
    seller_copy = home.lake_reference / "seller.json"
    if seller is None:
        seller_copy.unlink(missing_ok=True)
    else:
        write_text_atomically(seller_copy, json.dumps(seller.as_dict(), indent=2) + "\n")
    return tables


def read_seller(home: Home) -> Seller | None:
    """The seller's profile as the last run validated it, for documents."""
    path = home.lake_reference / "seller.json"
    return Seller(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else None
