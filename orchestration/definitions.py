"""The Dagster code location: `dagster dev -w workspace.yaml` loads `defs` from here.

`build_defs` takes the settings: the code location reads the home from `TALLY_HOME` when a run
starts (Dagster's `EnvVar`, so the UI, schedules and sensors follow the deployment), while
`tally` builds the definitions with the home it was given, as resource configuration.
"""

from __future__ import annotations

import dagster as dg

from orchestration.defs.billing.assets import issue_invoices
from orchestration.defs.dbt.assets import tally_dbt_models
from orchestration.defs.ingest.assets import ingest_usage, price_book, reference_data
from orchestration.defs.jobs import month_close, nightly_billing
from orchestration.defs.quality.checks import (
    invoices_expectations,
    usage_events_expectations,
)
from orchestration.defs.quality.reconciliation import reconciliation
from orchestration.defs.resources import resources
from orchestration.defs.schedules import month_close_schedule, nightly_schedule
from orchestration.defs.sensors import (
    alert_on_failed_checks,
    alert_on_failed_runs,
    new_landing_files,
)
from orchestration.settings import TallySettings


def build_defs(settings: TallySettings) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            price_book,
            reference_data,
            ingest_usage,
            tally_dbt_models,
            issue_invoices,
        ],
        asset_checks=[
            usage_events_expectations,
            invoices_expectations,
            reconciliation,
        ],
        jobs=[nightly_billing, month_close],
        schedules=[nightly_schedule, month_close_schedule],
        sensors=[new_landing_files, alert_on_failed_checks, alert_on_failed_runs],
        resources=resources(settings),
    )


defs = build_defs(TallySettings(home=dg.EnvVar("TALLY_HOME")))
