"""The suites: which expectations each table must meet. GX is imported lazily (about 5 s)."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from transforms.validation import event_id_hash, repeated_values

# GX validates at most about this many events of a batch (a deterministic sample); the one
# property a sample cannot show, repeated event ids, is checked over every row in Polars.
EVENTS_SAMPLE_ROWS = 100_000
EVENTS_COLUMNS = ("event_id", "customer_id", "metric", "occurred_at", "quantity")


def sample_events(events: pl.LazyFrame, rows: int = EVENTS_SAMPLE_ROWS) -> pl.DataFrame:
    """About `rows` events chosen by a hash of `event_id` (all of them if there are fewer):
    the same batch always gives the same sample, and every copy of an id is in it or not."""
    total = events.select(pl.len()).collect().item()
    if total > rows:
        events = events.filter(event_id_hash() % total < rows)
    return events.select(EVENTS_COLUMNS).collect(engine="streaming")


def repeated_event_ids(events: pl.LazyFrame) -> int:
    """Rows whose `event_id` already appeared in an earlier row, counted over every row.

    Screened by 64-bit hash (equal ids have equal hashes, so distinct hashes prove distinct
    ids); only the ids whose hash repeats are compared exactly.
    """
    hashes = events.select(event_id_hash().alias("h")).collect(engine="streaming")["h"]
    suspects = repeated_values(hashes)
    if suspects.len() == 0:
        return 0
    ids = (
        events.filter(event_id_hash().is_in(suspects.implode()))
        .select("event_id")
        .collect()["event_id"]
    )
    return ids.len() - ids.n_unique()


def events_frame(events: pl.DataFrame, signed_metrics: Iterable[str] = ()) -> pl.DataFrame:
    """The columns the events suite reads, as strings and booleans only. A quantity may be
    negative only on a signed metric (one a weighted_sum charge prices).

    Timestamps and decimals are turned into booleans in Polars first: a tz-aware timestamp
    column anywhere in the frame made every GX expectation about 20x slower (measured on
    1M rows), and no number needs to cross into pandas.
    """
    return events.select(
        "event_id",
        "customer_id",
        "metric",
        pl.col("occurred_at").is_not_null().alias("has_occurred_at"),
        ((pl.col("quantity") >= 0) | pl.col("metric").is_in(list(signed_metrics))).alias(
            "quantity_is_non_negative"
        ),
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


def invoices_frame(invoices: pl.DataFrame) -> pl.DataFrame:
    """fct_invoices as strings and booleans: the money rules are evaluated exactly in Polars.

    Credits pay the subtotal plus tax (the flags keep their names from before taxes). A
    subtotal may be negative when a carried adjustment (a credit note) exceeds the month's
    charges; there is then no tax, credits pay nothing and the total is 0.
    """
    zero = pl.lit(0).cast(invoices.schema["subtotal"]) if invoices.width else pl.lit(0)
    due = pl.max_horizontal(pl.col("subtotal"), zero) + pl.col("tax")
    return invoices.select(
        "invoice_id",
        "status",
        "currency",
        (pl.col("total") >= 0).alias("total_non_negative"),
        ((pl.col("credits_applied") >= 0) & (pl.col("credits_applied") <= due)).alias(
            "credits_within_subtotal"
        ),
        (
            pl.col("total")
            == pl.max_horizontal(
                pl.col("subtotal") + pl.col("tax") - pl.col("credits_applied"), zero
            )
        ).alias("total_is_subtotal_minus_credits"),
        (pl.col("period_end") > pl.col("period_start")).alias("period_is_ordered"),
        ((pl.col("status") == "issued") == pl.col("issued_at").is_not_null()).alias(
            "issued_invoices_have_issued_at"
        ),
    )


def invoices_suite(currencies: Iterable[str]):
    import great_expectations as gx

    E = gx.expectations
    flags = (
        "total_non_negative",
        "credits_within_subtotal",
        "total_is_subtotal_minus_credits",
        "period_is_ordered",
        "issued_invoices_have_issued_at",
    )
    return [
        E.ExpectColumnValuesToBeUnique(column="invoice_id"),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=["draft", "issued"]),
        E.ExpectColumnValuesToBeInSet(column="currency", value_set=sorted(currencies)),
        *[E.ExpectColumnValuesToBeInSet(column=f, value_set=[True]) for f in flags],
    ]
