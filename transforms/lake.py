"""Writing lake tables: atomic file replacement and schema-carrying empty tables."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from transforms.home import Home

ISSUED_INVOICE_SCHEMA = {
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "currency": pl.String,
    "subtotal": pl.Decimal(38, 4),
    "credits_applied": pl.Decimal(38, 4),
    "total": pl.Decimal(38, 4),
    "issued_at": pl.Datetime("us", "UTC"),
}
ISSUED_LINE_SCHEMA = {
    "invoice_line_id": pl.String,
    "invoice_id": pl.String,
    "customer_id": pl.String,
    "period_start": pl.Date,
    "line_type": pl.String,
    "charge_id": pl.String,
    "quantity": pl.Decimal(38, 9),
    "amount": pl.Decimal(38, 4),
    "currency": pl.String,
    # The pricing that produced the line, so a later re-rating can tell a price change apart.
    "plan_id": pl.String,
    "plan_version": pl.Int64,
}
ISSUED_CONSUMPTION_SCHEMA = {
    "entry_id": pl.String,
    "grant_id": pl.String,
    "customer_id": pl.String,
    "invoice_id": pl.String,
    "period_start": pl.Date,
    "entry_date": pl.Date,
    "credits": pl.Decimal(38, 9),
    "money": pl.Decimal(38, 4),
    "revenue": pl.Decimal(38, 4),
    "discount": pl.Decimal(38, 4),
}
EMPTY_NAME = "_empty.parquet"


def event_id_hash() -> pl.Expr:
    """A 64-bit hash of `event_id`. Equal ids always hash equal, so sets of millions of ids are
    screened by hash (ingestion's deduplication, the events check) and only ids whose hash
    repeats are compared as strings."""
    return pl.col("event_id").hash(seed=0)


def write_table(df: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file so readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # zstd level 1: a fifth faster to write than the default level, files about 5% larger.
    df.write_parquet(tmp, compression="zstd", compression_level=1)
    os.replace(tmp, path)


def ensure_lake(home: Home) -> None:
    """Give every appendable lake table a zero-row file carrying its schema.

    The warehouse reads these folders with globs; an empty folder would make the read fail,
    so a lake with no data yet reads as empty tables instead.
    """
    from transforms.ingest import EVENT_SCHEMA, FILES_SCHEMA, QUARANTINE_SCHEMA

    tables = {
        home.lake_events: EVENT_SCHEMA,
        home.lake_quarantine: QUARANTINE_SCHEMA,
        home.lake_ingested_files: FILES_SCHEMA,
        home.lake_issued / "invoices": ISSUED_INVOICE_SCHEMA,
        home.lake_issued / "invoice_lines": ISSUED_LINE_SCHEMA,
        home.lake_issued / "credit_consumption": ISSUED_CONSUMPTION_SCHEMA,
    }
    for folder, schema in tables.items():
        empty = folder / EMPTY_NAME
        if not empty.exists():
            write_table(pl.DataFrame(schema=schema), empty)


def currency_table() -> pl.DataFrame:
    """ISO 4217 currencies and their minor units, from CLDR via Babel."""
    from babel.numbers import get_currency_precision, list_currencies

    codes = sorted(list_currencies())
    return pl.DataFrame(
        {"currency": codes, "minor_units": [get_currency_precision(c) for c in codes]},
        schema={"currency": pl.String, "minor_units": pl.Int32},
    )
