"""Sensors: start a billing run when new raw exports land."""

import datetime as dt
import hashlib

import dagster as dg

from orchestration.defs.jobs import nightly_billing
from orchestration.settings import TallySettings


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
