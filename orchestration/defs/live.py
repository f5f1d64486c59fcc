"""Live spend: a micro-batch as exports land, so a customer's spend shows within a minute.

`tally watch` runs the `live_spend` job each time new files have settled under landing/usage;
the `live_spend` sensor does the same for a home run by the Dagster daemon. A micro-batch
reads the price book and reference data as they are now, ingests the new files, rebuilds only the models `mart_customer_spend` and
`fct_spend_notifications` read (`dbt run`: no tests, no reconciliation), swaps them in, raises
spend notifications and rewrites the pages and feeds of the customers whose figures changed.
The nightly `tally run` stays the full build: its tests and checks, the finance page, and the
only build a month close accepts (lake/freshness.py).
"""

import datetime as dt

import dagster as dg
from dagster_dbt import DbtCliResource

from lake.freshness import mark_live, marts_behind_lake
from lake.ingest import ingest_landing
from lake.price_book import write_price_book
from lake.reference import write_reference
from orchestration.defs.dbt.project import tally_dbt_project
from orchestration.settings import TallySettings
from publish.notifications import record_and_deliver
from publish.reports import refresh_customer_pages
from transforms.pricebook import PriceBookError
from transforms.reference import ReferenceDataError
from warehouse.build import WarehouseBusy, build_path, finish_build, start_build
from warehouse.dbt import write_run_profile
from warehouse.parse_ahead import dbt_target
from warehouse.reading import reading

# What a micro-batch rebuilds: the spend marts, the other marts a customer's page shows (daily
# usage, invoices, credits: a page is never half fresh), and every model they read. Not the
# reconciliation, the quality marts nor the finance page's revenue: they wait for the nightly.
LIVE_MODELS = (
    "+mart_customer_spend",
    "+fct_spend_notifications",
    "+fct_usage_daily",
    "+fct_invoices",
    "+fct_credit_ledger",
)
# A file modified less than this long ago may still be being written: it waits.
SETTLE_SECONDS = 2.0


class LiveConfig(dg.Config):
    """`settle_seconds`: how long a landing file must have been left alone to be read."""

    settle_seconds: float = SETTLE_SECONDS


@dg.op(
    pool="warehouse",
    description=(
        "Ingest the landing files that settled, rebuild the spend marts (no tests), raise "
        "spend notifications, rewrite the changed customers' pages and feeds."
    ),
)
def micro_batch(
    context: dg.OpExecutionContext,
    config: LiveConfig,
    settings: TallySettings,
    dbt: DbtCliResource,
):
    home = settings.tally_home
    if not home.has_warehouse() or not (home.lake_reference / "customers.parquet").exists():
        raise dg.Failure(
            description="no full build in this home yet: run `tally run` once, then watch"
        )
    now = dt.datetime.now(dt.UTC)
    # The price book and reference data as they are now, as a nightly reads them first: a
    # customer added since the last nightly is known, not quarantined as unknown.
    try:
        write_price_book(home)
        write_reference(home)
    except (PriceBookError, ReferenceDataError) as exc:
        raise dg.Failure(description=str(exc)) from None
    result = ingest_landing(
        home,
        now=now,
        warn=context.log.warning,
        progress=context.log.info,
        settle_seconds=config.settle_seconds,
    )
    if result.batch_id is None and not marts_behind_lake(home):
        context.log.info("micro-batch: nothing settled to ingest")
        return
    batch_id = result.batch_id or "(a batch an earlier micro-batch ingested)"
    totals = result.totals
    context.log.info(f"micro-batch {batch_id}: {totals}")
    _rebuild_spend_models(context, home, settings, dbt)
    with reading(home) as warehouse:
        mart = warehouse.frame("select * from marts.fct_spend_notifications")
        delivery = record_and_deliver(home, mart, now=now)
        pages = refresh_customer_pages(home, warehouse, now=now)
    mark_live(home, batch_id, now, pages=pages, notifications=delivery.recorded)
    context.log.info(
        f"micro-batch {batch_id}: {delivery.recorded} new notification(s), "
        f"{pages} customer page(s) rewritten"
    )
    for key, metadata in {
        "usage_events": {"accepted": totals["rows_accepted"], "batch_id": batch_id},
        "mart_customer_spend": {"live": True},
        "fct_spend_notifications": {"live": True},
        "spend_notifications": {"new": delivery.recorded},
    }.items():
        context.log_event(dg.AssetMaterialization(asset_key=key, metadata=metadata))


def _rebuild_spend_models(context, home, settings: TallySettings, dbt) -> None:
    """`dbt run` of the spend marts and their upstream, into a copy of the warehouse that
    replaces the live file in one rename (DuckDB), as the nightly builds."""
    duckdb = home.engine == "duckdb"
    try:
        build = start_build(home) if duckdb else build_path(home)
    except WarehouseBusy as exc:
        raise dg.Failure(description=str(exc)) from None
    profiles = write_run_profile(home, build, settings.duckdb_memory_limit)
    args = ["run", "--select", " ".join(LIVE_MODELS), "--profiles-dir", str(profiles)]
    invocation = dbt.cli(
        args,
        manifest=tally_dbt_project.manifest_path,
        target_path=dbt_target(home),
        raise_on_error=False,
    )
    invocation.wait()
    error = invocation.get_error()
    if error is not None:
        build.unlink(missing_ok=True)
        raise dg.Failure(description=f"the spend models did not build: {error}") from error
    if duckdb:
        finish_build(home, build)


live_spend = dg.JobDefinition(
    name="live_spend",
    graph_def=dg.GraphDefinition(name="live_spend", node_defs=[micro_batch]),
    description=(
        "A micro-batch: new settled landing files -> spend marts (no tests) -> spend "
        "notifications and the changed customers' pages. The nightly run stays the full build."
    ),
)
