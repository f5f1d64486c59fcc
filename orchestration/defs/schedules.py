"""Schedules: nightly billing at 02:00 UTC, month close at 06:00 UTC on the 3rd (late data settles)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.jobs import month_close, nightly_billing

nightly_schedule = dg.build_schedule_from_partitioned_job(nightly_billing, hour_of_day=2)
month_close_schedule = dg.build_schedule_from_partitioned_job(
    month_close, day_of_month=3, hour_of_day=6
)
