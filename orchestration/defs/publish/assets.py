"""What every run publishes after the marts: customer spend notifications, then the reports.

One step for both (one reading of the warehouse, one step's overhead per run); subsettable, so
the notify_customers job delivers waiting notifications without rebuilding the reports.
"""

import datetime as dt

import dagster as dg

from orchestration.settings import TallySettings
from publish.notifications import record_and_deliver
from publish.reports import build_reports
from warehouse.reading import reading

# What the models read of earlier runs' notifications (the dbt source lake.spend_notifications):
# written by spend_notifications below, which Dagster must not see as its upstream (a cycle).
notification_record = dg.AssetSpec(
    "spend_notification_record",
    group_name="publish",
    description=(
        "Every spend notification raised so far (lake/notifications), as earlier runs recorded "
        "it; written by the spend_notifications asset after the marts."
    ),
)

NOTIFICATIONS = dg.AssetKey("spend_notifications")
REPORTS = dg.AssetKey("reports")


@dg.multi_asset(
    name="publish",
    specs=[
        dg.AssetSpec(
            NOTIFICATIONS,
            group_name="publish",
            deps=["fct_spend_notifications"],
            description=(
                "Customer spend notifications raised by this run, recorded once in "
                "lake/notifications, appended to alerts/notifications.jsonl and POSTed to "
                "TALLY_NOTIFY_WEBHOOK when set (retried until delivered; never fails the run)."
            ),
            skippable=True,
        ),
        dg.AssetSpec(
            REPORTS,
            group_name="publish",
            deps=[
                "fct_revenue_monthly",
                "fct_invoices",
                "fct_billing_mismatches",
                "mart_customer_spend",
                "fct_usage_daily",
                "fct_credit_ledger",
                NOTIFICATIONS,
            ],
            description=(
                "reports/: index.html for finance and customers/<customer_id>.html (with its "
                "JSON) for each customer, rebuilt from the marts; self-contained pages "
                "(plotly.js beside them)."
            ),
            skippable=True,
        ),
    ],
    can_subset=True,
    pool="warehouse",
)
def publish(context: dg.AssetExecutionContext, settings: TallySettings):
    home = settings.tally_home
    now = dt.datetime.now(dt.UTC)
    with reading(home) as warehouse:
        if NOTIFICATIONS in context.selected_asset_keys:
            mart = warehouse.frame("select * from marts.fct_spend_notifications")
            delivery = record_and_deliver(home, mart, now=now)
            context.log.info(
                f"spend notifications: {delivery.recorded} new, {delivery.written} written to "
                f"{home.relative(home.notifications)}, {delivery.posted} posted to the webhook"
                + (f", {delivery.pending} waiting for it" if delivery.pending else "")
            )
            yield dg.MaterializeResult(
                asset_key=NOTIFICATIONS,
                metadata={
                    "new": delivery.recorded,
                    "written": delivery.written,
                    "posted": delivery.posted,
                    "pending_webhook": delivery.pending,
                },
            )
        if REPORTS in context.selected_asset_keys:
            built = build_reports(home, warehouse, now=now)
            context.log.info(
                f"reports: {home.relative(built.folder)}/index.html and "
                f"{built.customers} customer pages"
            )
            yield dg.MaterializeResult(
                asset_key=REPORTS,
                metadata={
                    "customers": built.customers,
                    "index": dg.MetadataValue.path(str(built.folder / "index.html")),
                },
            )
