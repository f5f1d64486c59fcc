"""Partitions: usage by UTC day, billing by UTC calendar month."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

PARTITIONS_START = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")


def window_to_vars(start: dt.datetime, end: dt.datetime, lake_dir: str) -> dict[str, str]:
    """A partition time window (end exclusive) as the dbt vars of the run."""
    return {
        "min_date": start.date().isoformat(),
        "max_date": (end - dt.timedelta(days=1)).date().isoformat(),
        "lake_dir": lake_dir,
    }


def dbt_vars_arg(variables: dict[str, str]) -> list[str]:
    return ["--vars", json.dumps(variables, sort_keys=True)]
