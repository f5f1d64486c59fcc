"""Partitions: usage by UTC day, billing by UTC calendar month."""

from __future__ import annotations

import dagster as dg

PARTITIONS_START = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=PARTITIONS_START, timezone="UTC", end_offset=1
)
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
