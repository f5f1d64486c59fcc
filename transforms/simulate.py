"""Price simulation (`tally simulate`): a month rated under a candidate price book.

Reads only: the month's accepted events from the lake, the subscriptions, and the current
invoices from the warehouse (read-only). Rates with the pure functions of transforms.rating,
so a candidate price book is priced exactly as the warehouse would price it, and writes
nothing to the lake or the marts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from transforms.home import Home
from transforms.pricebook import PriceBook
from transforms.rating import (
    Segment,
    aggregate_groups,
    month_bounds,
    plan_for_period,
    segment_lines,
    usage_groups,
)

ZERO = Decimal(0)


class SimulationError(ValueError):
    """A simulation that cannot run, with the reason."""


@dataclass(frozen=True)
class SimulatedInvoice:
    customer_id: str
    currency: str
    current: Decimal
    simulated: Decimal

    @property
    def difference(self) -> Decimal:
        return self.simulated - self.current


def _month_events(home: Home, month: dt.date) -> pl.LazyFrame:
    start, end = month_bounds(month)
    files = [
        p
        for p in sorted(home.lake_events.glob("event_date=*/*.parquet"))
        if start.isoformat() <= p.parent.name.removeprefix("event_date=") < end.isoformat()
    ]
    if not files:
        return pl.LazyFrame(
            schema={
                "event_id": pl.String,
                "occurred_at": pl.Datetime("us", "UTC"),
                "customer_id": pl.String,
                "metric": pl.String,
                "quantity": pl.Decimal(38, 9),
                "status": pl.Int32,
                "properties": pl.String,
            }
        )
    return pl.scan_parquet(files).select(
        "event_id", "occurred_at", "customer_id", "metric", "quantity", "status", "properties"
    )


def _current_subtotals(home: Home, month: dt.date) -> dict[str, tuple[str, Decimal]]:
    if not home.warehouse.exists():
        return {}
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        # The month's rated lines, without adjustments carried in from earlier months.
        rows = con.execute(
            "select customer_id, currency, sum(amount) from marts.fct_invoice_lines "
            "where period_start = ? and line_type <> 'adjustment' group by 1, 2",
            [month],
        ).fetchall()
    return {c: (ccy, Decimal(s)) for c, ccy, s in rows}


def simulate_month(home: Home, book: PriceBook, month: dt.date) -> list[SimulatedInvoice]:
    """Per customer: the month's current subtotal and its subtotal under `book`."""
    start, end = month_bounds(month)
    subs = pl.read_parquet(home.lake_reference / "subscriptions.parquet")
    groups = usage_groups(_month_events(home, month))
    current = _current_subtotals(home, month)
    simulated: dict[str, tuple[str, Decimal]] = {}
    for sub in subs.sort("subscription_id").iter_rows(named=True):
        seg_start = max(sub["started_at"], start)
        seg_end = min(sub["ended_at"] or end, end)
        if seg_start >= seg_end:
            continue
        plan = plan_for_period(book, sub["plan_id"], start)
        if plan is None:
            raise SimulationError(
                f"the candidate price book has no version of plan {sub['plan_id']!r} effective "
                f"on {start} (subscription {sub['subscription_id']})"
            )
        seg_groups = groups.filter(
            (pl.col("customer_id") == sub["customer_id"])
            & pl.col("d").is_between(seg_start, seg_end, closed="left")
        )
        usage = {c.charge_id: aggregate_groups(c, seg_groups) for c in plan.charges}
        lines = segment_lines(Segment(sub["customer_id"], plan, seg_start, seg_end), usage)
        amount = sum((ln.amount for ln in lines), ZERO)
        _, before = simulated.get(sub["customer_id"], (plan.currency, ZERO))
        simulated[sub["customer_id"]] = (plan.currency, before + amount)
    customers = sorted(set(simulated) | set(current))
    return [
        SimulatedInvoice(
            c,
            (simulated.get(c) or current[c])[0],
            current.get(c, ("", ZERO))[1],
            simulated.get(c, ("", ZERO))[1],
        )
        for c in customers
    ]


def simulation_frame(results: list[SimulatedInvoice]) -> pl.DataFrame:
    money = pl.Decimal(38, 4)
    return pl.DataFrame(
        {
            "customer_id": [r.customer_id for r in results],
            "currency": [r.currency for r in results],
            "current": pl.Series([r.current for r in results], dtype=money),
            "simulated": pl.Series([r.simulated for r in results], dtype=money),
            "difference": pl.Series([r.difference for r in results], dtype=money),
        },
    )


def write_simulation(frame: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".csv":
        frame.write_csv(path)
    else:
        raise SimulationError(f"--output {path}: use a .csv or .parquet file")
