"""Great Expectations suites run as Dagster asset checks."""

import dagster as dg
import polars as pl

from expectations.runner import validate
from expectations.suites import (
    customers_suite,
    events_frame,
    events_suite,
    grants_frame,
    grants_suite,
)
from orchestration.defs.ingest.assets import load_book
from orchestration.settings import TallySettings
from transforms.ingest import latest_batch_id


@dg.asset_check(
    asset="usage_events", description="GX: the newest ingested batch of events is well formed."
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
    events = pl.scan_parquet(files).collect()
    result = validate(
        events_frame(events), "usage_events", events_suite(load_book(settings).metrics)
    )
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.summary,
        metadata={"rows": events.height, "failed_expectations": len(result.failed)},
    )


@dg.asset_check(
    asset="customers",
    additional_deps=["credit_grants"],
    description="GX: customers and credit grants are valid.",
)
def customers_expectations(
    context: dg.AssetCheckExecutionContext, settings: TallySettings
) -> dg.AssetCheckResult:
    from transforms.lake import currency_table

    ref = settings.tally_home.lake_reference
    customers = pl.read_parquet(ref / "customers.parquet")
    grants = pl.read_parquet(ref / "credit_grants.parquet")
    results = [
        validate(
            customers.select("customer_id", "currency"),
            "customers",
            customers_suite(currency_table()["currency"]),
        ),
        validate(grants_frame(grants), "credit_grants", grants_suite()),
    ]
    return dg.AssetCheckResult(
        passed=all(r.success for r in results),
        description=" | ".join(r.summary for r in results),
        metadata={"customers": customers.height, "credit_grants": grants.height},
    )
