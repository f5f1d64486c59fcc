"""Jobs: the nightly billing run and the month close."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.billing.assets import ISSUED

# The full audit of the lake reads every event once: at month close, not every night.
FULL_AUDIT = dg.AssetSelection.assets("audit_lake")
ISSUING = dg.AssetSelection.assets(*ISSUED)

nightly_billing = dg.define_asset_job(
    "nightly_billing",
    selection=dg.AssetSelection.all() - ISSUING - FULL_AUDIT,
    description="Ingest new exports, refresh reference data and price book, rate, build marts, check.",
)

month_close = dg.define_asset_job(
    "month_close",
    selection=FULL_AUDIT | ISSUING.downstream(),
    description=(
        "Audit the whole lake, issue a month's invoices once, then refresh the marts that "
        "read them."
    ),
)

notify_customers = dg.define_asset_job(
    "notify_customers",
    selection=dg.AssetSelection.assets("spend_notifications"),
    description=(
        "Deliver spend notifications the webhook has not taken yet (raised by earlier runs), "
        "without rebuilding anything."
    ),
)
