"""Reading reference data from `landing/reference/*.csv`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lake.home import Home
from lake.io import write_table
from lake.schemas import REFERENCE_SCHEMAS
from transforms.money import currency_table
from transforms.reference import (
    OPTIONAL_FILES,
    ReferenceDataError,
    parse_reference,
    validate_reference,
)


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


def load_reference(landing_reference: Path, plans: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every reference file, typed and cross-validated against each other and the price book's
    plans table (`lake.price_book.price_book_tables`)."""
    tables = {
        name: read_reference(landing_reference / f"{name}.csv", name) for name in REFERENCE_SCHEMAS
    }
    return validate_reference(tables, plans)


def write_reference(home: Home) -> dict[str, pl.DataFrame]:
    """Validate the home's reference files against the lake's price book (written first) and
    write them, with the ISO currencies, to the lake (lake/reference/); the tables."""
    plans = pl.read_parquet(home.lake_pricing / "plans.parquet")
    tables = {**load_reference(home.landing_reference, plans), "currencies": currency_table()}
    for name, df in tables.items():
        write_table(df, home.lake_reference / f"{name}.parquet")
    return tables
