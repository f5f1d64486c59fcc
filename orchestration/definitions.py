"""The Dagster code location: `dagster dev -w workspace.yaml` loads `defs` from here.

`build_defs` takes the settings and the first month of the partitions. The code location
(`defs`, loaded by Dagster, not at import) reads the home from `TALLY_HOME` when a run starts
(Dagster's `EnvVar`, so the UI, schedules and sensors follow the deployment) and starts the
partitions where the home's data starts, or at `TALLY_FIRST_DAY`; `tally` builds the
definitions with the home it was given and the partitions of the command it runs.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings

import dagster as dg

from lake.home import Home
from orchestration.defs.billing.assets import issue_invoices
from orchestration.defs.dbt.assets import tally_dbt_models
from orchestration.defs.ingest.assets import ingest_usage, price_book, reference_data
from orchestration.defs.jobs import month_close, nightly_billing, notify_customers
from orchestration.defs.live import live_spend
from orchestration.defs.partitions import daily_partitions, first_month, monthly_partitions
from orchestration.defs.publish.assets import notification_record, publish
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
    live_spend_sensor,
    new_landing_files,
    undelivered_notifications,
)
from orchestration.settings import TallySettings


def build_defs(settings: TallySettings, first_day: dt.date) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor; partitions from `first_day`'s month."""
    # Binding the resources to the live_spend sensor's job copies the sensor with every
    # parameter, `owners` (beta) included, though tally sets none: a warning about nothing.
    warnings.filterwarnings("ignore", message="Parameter `owners`", category=dg.BetaWarning)
    return dg.Definitions(
        assets=[
            price_book,
            reference_data,
            ingest_usage(daily_partitions(first_day.replace(day=1))),
            tally_dbt_models,
            issue_invoices(monthly_partitions(first_day.replace(day=1))),
            notification_record,
            publish,
        ],
        asset_checks=[
            usage_events_expectations,
            invoices_expectations,
            reconciliation,
        ],
        jobs=[nightly_billing, month_close, notify_customers, live_spend],
        schedules=[nightly_schedule, month_close_schedule],
        sensors=[
            new_landing_files,
            live_spend_sensor,
            alert_on_failed_checks,
            alert_on_failed_runs,
            undelivered_notifications,
        ],
        resources=resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location, built when Dagster loads it."""
    home = Home.at(os.environ.get("TALLY_HOME", "data"))
    first_day = first_month(home, os.environ.get("TALLY_FIRST_DAY"))
    terms = int(os.environ.get("TALLY_PAYMENT_TERMS_DAYS", "30"))
    settings = TallySettings(home=dg.EnvVar("TALLY_HOME"), payment_terms_days=terms)
    return build_defs(settings, first_day)
