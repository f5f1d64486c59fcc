"""The suites: which expectations each table must meet. GX is imported lazily (about 5 s)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl


def events_frame(events: pl.DataFrame) -> pl.DataFrame:
    """The columns the events suite reads, as strings and booleans only.

    Timestamps and decimals are turned into booleans in Polars first: a tz-aware timestamp
    column anywhere in the frame made every GX expectation about 20x slower (measured on
    1M rows), and no number needs to cross into pandas.
    """
    return events.select(
        "event_id",
        "customer_id",
        "metric",
        pl.col("occurred_at").is_not_null().alias("has_occurred_at"),
        (pl.col("quantity") >= 0).alias("quantity_is_non_negative"),
    )


def events_suite(metrics: Iterable[str]):
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectColumnValuesToNotBeNull(column="event_id"),
        E.ExpectColumnValuesToBeUnique(column="event_id"),
        E.ExpectColumnValuesToBeInSet(column="has_occurred_at", value_set=[True]),
        E.ExpectColumnValuesToNotBeNull(column="customer_id"),
        E.ExpectColumnValuesToBeInSet(column="metric", value_set=sorted(metrics)),
        E.ExpectColumnValuesToBeInSet(column="quantity_is_non_negative", value_set=[True]),
    ]


def customers_suite(currencies: Iterable[str]):
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeUnique(column="customer_id"),
        E.ExpectColumnValuesToNotBeNull(column="customer_id"),
        E.ExpectColumnValuesToBeInSet(column="currency", value_set=sorted(currencies)),
    ]


def grants_frame(grants: pl.DataFrame) -> pl.DataFrame:
    return grants.select(
        "grant_id",
        (pl.col("credits") >= 0).alias("credits_non_negative"),
        (pl.col("expires_at").is_null() | (pl.col("expires_at") > pl.col("granted_at"))).alias(
            "expires_after_grant"
        ),
    )


def grants_suite():
    import great_expectations as gx

    E = gx.expectations
    return [
        E.ExpectColumnValuesToBeUnique(column="grant_id"),
        E.ExpectColumnValuesToBeInSet(column="credits_non_negative", value_set=[True]),
        E.ExpectColumnValuesToBeInSet(column="expires_after_grant", value_set=[True]),
    ]
