"""Landing -> lake: the price book, reference data and usage events, one asset per lake table."""

import dagster as dg
import polars as pl

from lake.ingest import ingest_landing
from lake.price_book import write_price_book
from lake.reference import write_reference
from lake.schemas import PRICE_BOOK_SCHEMAS, REFERENCE_SCHEMAS
from orchestration.memory import describe, own_peak_gib, reset_own_peak
from orchestration.settings import TallySettings
from transforms.validation import REASONS

PRICE_BOOK_TABLES = tuple(PRICE_BOOK_SCHEMAS)
REFERENCE_TABLES = (*REFERENCE_SCHEMAS, "currencies")
USAGE_TABLES = ("usage_events", "quarantined_events", "ingested_files", "batch_days")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(t, group_name="price_book", description=f"Price book table {t}.")
        for t in PRICE_BOOK_TABLES
    ],
    name="price_book",
    description="Validate pricing/*.yaml (refused whole on any fault) and flatten it for the warehouse.",
)
def price_book(context: dg.AssetExecutionContext, settings: TallySettings):
    # The one parse of the price book in a run: the assets below read the tables it writes.
    book, tables = write_price_book(settings.tally_home)
    for name, df in tables.items():
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": df.height})
    context.log.info(f"price book: {len(book.plans)} plan versions, metrics {sorted(book.metrics)}")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            t,
            group_name="reference",
            deps=["plans", "coupons"],
            description=f"Reference table {t}.",
        )
        for t in REFERENCE_TABLES
    ],
    name="reference_data",
    description="Customers, subscriptions, credit grants and billed invoices, typed and cross-validated.",
)
def reference_data(context: dg.AssetExecutionContext, settings: TallySettings):
    for name, df in write_reference(settings.tally_home).items():
        yield dg.MaterializeResult(asset_key=name, metadata={"rows": df.height})


def ingest_usage(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The usage asset over the daily `partitions` (orchestration/defs/partitions.py)."""
    return dg.multi_asset(
        specs=[
            dg.AssetSpec(
                t, group_name="usage", deps=["customers", "charges"], description=f"Lake table {t}."
            )
            for t in USAGE_TABLES
        ],
        name="ingest_usage",
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="warehouse",
        description=(
            "New raw exports from landing/usage, normalized and deduplicated into lake/events; "
            "bad rows quarantined with a reason. Every new file is ingested, whatever the window."
        ),
    )(_ingest_usage)


def _ingest_usage(context: dg.AssetExecutionContext, settings: TallySettings):
    home = settings.tally_home
    reset_own_peak()
    result = ingest_landing(home, progress=context.log.info, warn=context.log.warning)
    totals = result.totals
    context.log.info(f"ingested: {totals}")
    context.log.info(describe(own_peak_gib()))
    reasons: dict[str, int] = {}
    if result.batch_id:
        batch = pl.scan_parquet(home.lake_quarantine / f"batch-{result.batch_id}.parquet")
        reasons = dict(batch.group_by("reason").len().collect().iter_rows())
    yield dg.MaterializeResult(
        asset_key="usage_events",
        metadata={
            "accepted": totals["rows_accepted"],
            "duplicates_dropped": totals["duplicates_dropped"],
            "event_dates": len(result.event_dates),
            "batch_id": result.batch_id or "",
        },
    )
    yield dg.MaterializeResult(
        asset_key="quarantined_events",
        metadata={
            "quarantined": totals["rows_quarantined"],
            **{r: int(reasons.get(r, 0)) for r in REASONS},
        },
    )
    yield dg.MaterializeResult(
        asset_key="ingested_files",
        metadata={
            "files": result.files.height,
            "rows_read": totals["rows_read"],
            "unreadable": result.files.filter(pl.col("status") == "failed").height,
        },
    )
    yield dg.MaterializeResult(
        asset_key="batch_days",
        metadata={"event_dates": dg.MetadataValue.text(_date_span(result.event_dates))},
    )


def _date_span(dates: list) -> str:
    """The event dates a batch touched, for the UI: `2026-10-01 .. 2026-10-05 (5 dates)`."""
    if not dates:
        return "none"
    return f"{dates[0]} .. {dates[-1]} ({len(dates)} dates)"
