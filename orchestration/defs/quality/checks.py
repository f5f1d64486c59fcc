"""Great Expectations suites run as Dagster asset checks."""

import dagster as dg
import polars as pl

from expectations.runner import validate
from expectations.suites import (
    events_frame,
    events_suite,
    invoices_frame,
    invoices_suite,
    repeated_event_ids,
    sample_events,
)
from lake.ingest import latest_batch_id
from lake.price_book import signed_metrics
from orchestration.settings import TallySettings
from warehouse.reading import reading

# GX takes seconds to import; its checks run after the ingest and dbt steps that are ready at
# the same time, so `tally` can import it in the background meanwhile (cli/main.py).
LATE = {"dagster/priority": "-1"}


@dg.asset_check(
    asset="usage_events",
    description="GX: the newest ingested batch of events is well formed.",
    op_tags=LATE,
)
def usage_events_expectations(
    context: dg.AssetCheckExecutionContext, settings: TallySettings
) -> dg.AssetCheckResult:
    home = settings.tally_home
    # Only the newest batch: memory stays bounded by one night's data, not by history.
    batch_id = latest_batch_id(home)
    files = sorted(home.lake_events.glob(f"*/batch-{batch_id}-*.parquet")) if batch_id else []
    if not files:
        return dg.AssetCheckResult(passed=True, description="no new events", metadata={"rows": 0})
    events = pl.scan_parquet(files)
    sample = sample_events(events)
    repeated = repeated_event_ids(events)
    charges = pl.read_parquet(home.lake_pricing / "charges.parquet")
    result = validate(
        events_frame(sample, signed_metrics=signed_metrics(charges)),
        "usage_events",
        events_suite(charges["metric"].unique()),
    )
    description = result.summary
    if repeated:
        description = f"{repeated} events repeat an event_id of the batch; {description}"
    return dg.AssetCheckResult(
        passed=result.success and repeated == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "rows": events.select(pl.len()).collect().item(),
            "rows_validated_by_gx": sample.height,
            "repeated_event_ids": repeated,
            "failed_expectations": len(result.failed),
        },
    )


@dg.asset_check(
    asset="fct_invoices",
    description="GX: invoices are unique, in a known currency and status, and their money adds "
    "up (credits within the subtotal plus tax, total = subtotal + tax - credits).",
    pool="warehouse",
    op_tags=LATE,
)
def invoices_expectations(
    context: dg.AssetCheckExecutionContext, settings: TallySettings
) -> dg.AssetCheckResult:

    from transforms.money import currency_table

    with reading(settings.tally_home) as warehouse:
        invoices = warehouse.frame("select * from marts.fct_invoices")
    result = validate(
        invoices_frame(invoices), "fct_invoices", invoices_suite(currency_table()["currency"])
    )
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.summary,
        metadata={"invoices": invoices.height, "failed_expectations": len(result.failed)},
    )
