"""Sensors: start a billing run when new raw exports land, or a live micro-batch when they have
settled; alert on finished runs; retry spend notifications the webhook has not taken."""

import datetime as dt
import hashlib
import os

import dagster as dg

from lake.freshness import micro_batch_due
from orchestration.defs.jobs import month_close, nightly_billing, notify_customers
from orchestration.defs.live import SETTLE_SECONDS, live_spend
from orchestration.run_alerts import alerts_for_events, run_partition
from orchestration.settings import TallySettings, launched_by_cli
from publish.alerts import raise_alerts
from publish.notifications import WEBHOOK_ENV, undelivered


@dg.sensor(
    job=nightly_billing, minimum_interval_seconds=300, description="New files under landing/usage."
)
def new_landing_files(context: dg.SensorEvaluationContext, settings: TallySettings):
    files = settings.tally_home.usage_files()
    fingerprint = hashlib.sha256(
        "\n".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()
    ).hexdigest()
    if not files or fingerprint == context.cursor:
        return dg.SkipReason("no new landing files")
    context.update_cursor(fingerprint)
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=fingerprint, partition_key=yesterday)


@dg.sensor(
    name="live_spend",
    job=live_spend,
    minimum_interval_seconds=30,
    description=(
        "New landing files that settled: a live_spend micro-batch, so customers' spend shows "
        "within a minute (the nightly stays the full build)."
    ),
)
def live_spend_sensor(context: dg.SensorEvaluationContext, settings: TallySettings):
    fingerprint = micro_batch_due(settings.tally_home, SETTLE_SECONDS)
    if fingerprint is None:
        return dg.SkipReason("no settled landing file to ingest")
    return dg.RunRequest(run_key=fingerprint)


def _alert_run(context: dg.RunStatusSensorContext, settings: TallySettings) -> None:
    run = context.dagster_run
    if launched_by_cli(run):  # the CLI alerted already
        return
    entries = context.instance.all_logs(
        run.run_id,
        of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE},
    )
    alerts = alerts_for_events(
        [e.dagster_event for e in entries if e.dagster_event],
        job=run.job_name,
        partition=run_partition(run.tags),
        run_id=run.run_id,
    )
    raise_alerts(settings.tally_home, alerts)
    if alerts:
        context.log.info(f"{len(alerts)} alert(s) for run {run.run_id}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[nightly_billing, month_close],
    description="Alerts for failed warning and error checks of scheduled runs that succeeded.",
)
def alert_on_failed_checks(context: dg.RunStatusSensorContext, settings: TallySettings):
    _alert_run(context, settings)


@dg.run_failure_sensor(
    monitored_jobs=[nightly_billing, month_close],
    description="Alerts for scheduled runs that failed: failed steps and blocking checks.",
)
def alert_on_failed_runs(context: dg.RunFailureSensorContext, settings: TallySettings):
    _alert_run(context, settings)


@dg.sensor(
    job=notify_customers,
    minimum_interval_seconds=900,
    description=(
        "Spend notifications that TALLY_NOTIFY_WEBHOOK has not taken yet: a run that delivers "
        "them, every 15 minutes until it has, instead of waiting for the next nightly run."
    ),
)
def undelivered_notifications(context: dg.SensorEvaluationContext, settings: TallySettings):
    if not os.environ.get(WEBHOOK_ENV):
        return dg.SkipReason(f"{WEBHOOK_ENV} is not set")
    pending = undelivered(settings.tally_home)
    if not pending:
        return dg.SkipReason("every notification was delivered")
    context.log.info(f"{len(pending)} notification(s) waiting for the webhook")
    return dg.RunRequest(run_key=f"{len(pending)}:{dt.datetime.now(dt.UTC):%Y%m%d%H%M}")
