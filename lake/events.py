"""Reading the lake's accepted events."""

from __future__ import annotations

import datetime as dt

import polars as pl

from lake.home import Home
from lake.schemas import EVENT_SCHEMA

RATED_COLUMNS = (
    "event_id",
    "occurred_at",
    "customer_id",
    "metric",
    "quantity",
    "status",
    "properties",
)


def month_events(home: Home, month_start: dt.date, month_end: dt.date) -> pl.LazyFrame:
    """The accepted events of days [month_start, month_end), the columns rating needs."""
    files = [
        p
        for p in sorted(home.lake_events.glob("event_date=*/*.parquet"))
        if month_start.isoformat()
        <= p.parent.name.removeprefix("event_date=")
        < month_end.isoformat()
    ]
    if not files:
        return pl.LazyFrame(schema={c: EVENT_SCHEMA[c] for c in RATED_COLUMNS})
    return pl.scan_parquet(files).select(RATED_COLUMNS)
