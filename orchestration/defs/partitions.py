"""Partitions: usage by UTC day, billing by UTC calendar month, from where the data starts.

Dagster lists every partition from the start on (the UI's "N partitions, x% filled"): the
start is the first month of the home's usage in the lake, or `TALLY_FIRST_DAY` (read when the
code location loads, see orchestration/definitions.py), never after last month, so the
nightly schedule's "yesterday" is always a partition. `tally` builds its definitions for the
partitions of the command it runs.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from lake.home import Home


class FirstDayError(ValueError):
    """A TALLY_FIRST_DAY that is not a date."""


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def first_month(home: Home, configured: str | None = None, *, today: dt.date | None = None):
    """The first month the partitions list: `configured` (YYYY-MM-DD) if given, else the first
    usage day's month in the home's lake; never later than last month."""
    today = today or dt.datetime.now(dt.UTC).date()
    latest = month_start(month_start(today) - dt.timedelta(days=1))
    if configured:
        try:
            return month_start(dt.date.fromisoformat(configured))
        except ValueError:
            raise FirstDayError(
                f"TALLY_FIRST_DAY={configured!r} is not a date YYYY-MM-DD"
            ) from None
    days = sorted(
        p.name.removeprefix("event_date=")
        for p in (home.lake_events.iterdir() if home.lake_events.is_dir() else [])
        if p.is_dir() and p.name.startswith("event_date=")
    )
    first = month_start(dt.date.fromisoformat(days[0])) if days else latest
    return min(first, latest)


def daily_partitions(start: dt.date) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC", end_offset=1)


def monthly_partitions(start: dt.date) -> dg.MonthlyPartitionsDefinition:
    return dg.MonthlyPartitionsDefinition(start_date=start.isoformat(), timezone="UTC")
