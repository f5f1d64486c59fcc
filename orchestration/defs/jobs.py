"""Jobs: the nightly billing run and the month close."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.billing.assets import issue_invoices

nightly_billing = dg.define_asset_job(
    "nightly_billing",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(issue_invoices),
    description="Ingest new exports, refresh reference data and price book, rate, build marts, check.",
)

month_close = dg.define_asset_job(
    "month_close",
    selection=dg.AssetSelection.assets(issue_invoices).downstream(),
    description="Issue a month's invoices once, then refresh the marts that read them.",
)
