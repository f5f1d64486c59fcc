"""Synthetic world for demos, tests and the benchmark (`tally generate`).

Realistic rather than uniform: Zipf-like traffic per customer, a daily cycle and quieter
weekends, several plans (per-unit, graduated, volume, package, outcome-based), a mid-month plan
change, purchased and promotional credits (some for one charge only, some monthly), coupons, VAT on the
euro plan, a seller and billing addresses that make the documents sendable, exports in CSV, gzipped JSON lines (flat and
CloudEvents) and Parquet, with overlapping re-exports, late events, malformed rows and a
billed_invoices.csv that mostly agrees. Everything is vectorized and deterministic per seed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from demo.billing_system import billed_invoices
from demo.budgets import budgets
from demo.config import GenerateConfig
from demo.reference import (
    SELLER,
    coupon_redemptions,
    credit_grants,
    credit_topups,
    customers_of,
    subscriptions,
)
from lake.home import Home
from lake.price_book import load_price_book, price_book_files
from lake.schemas import QUANTITY_TYPE
from transforms.rating import usage_groups

# The demo price book: one plan per pricing model (a real file, as a user would write it).
PRICE_BOOK = Path(__file__).with_name("price_book.yaml")

METRICS = np.array(["api_calls", "tokens", "payments", "logins", "storage_gb"])
METRIC_P = np.array([0.66, 0.30, 0.02, 0.02])  # per request; storage_gb is a daily reading
PROPERTY_KEYS = ("model", "user_id")
STATUSES = np.array([200, 201, 429, 500])
STATUS_P = np.array([0.93, 0.02, 0.02, 0.03])
HOURLY = 1.0 + 0.8 * np.sin((np.arange(24) - 9) / 24 * 2 * np.pi)  # peak mid-afternoon UTC
FAULTS = (
    "missing_event_id",
    "bad_timestamp",
    "unknown_customer",
    "unknown_metric",
    "bad_quantity",
    "negative_quantity",
    "future_timestamp",
)


@dataclass(frozen=True)
class GenerateSummary:
    events: int  # distinct valid events (what tally should accept)
    raw_rows: int  # rows written to landing, including duplicates and faults
    duplicates: int
    faults: int
    files: int


def _hundredths_text(column: str) -> pl.Expr:
    """A whole number of hundredths as exact decimal text: 1234 -> "12.34"."""
    return pl.format(
        "{}.{}", pl.col(column) // 100, (pl.col(column) % 100).cast(pl.String).str.zfill(2)
    )


@dataclass(frozen=True)
class _Traffic:
    """What every day shares: who calls how much, and how many events each day has."""

    customers: pl.DataFrame
    weights: np.ndarray  # each customer's share of the day's requests
    per_day: np.ndarray  # requests per day (before the daily storage readings)


def _traffic(cfg: GenerateConfig, customers: pl.DataFrame, rng: np.random.Generator) -> _Traffic:
    n_cust = customers.height
    weights = 1.0 / np.arange(1, n_cust + 1) ** 1.1
    weights = rng.permutation(weights / weights.sum())
    weekday = np.array([(cfg.start + dt.timedelta(days=d)).weekday() for d in range(cfg.days)])
    per_day = (
        cfg.events_per_day * np.where(weekday >= 5, 0.65, 1.1) * rng.uniform(0.9, 1.1, cfg.days)
    ).astype(np.int64)
    return _Traffic(customers, weights, per_day)


def _day_events(
    cfg: GenerateConfig, traffic: _Traffic, day: int, first_seq: int, rng: np.random.Generator
) -> pl.DataFrame:
    """The clean truth of one day: distinct valid events with the day of the export file they
    land in. Event ids are numbered in time order across days, from `first_seq`.

    Quantities and properties are the exact text an exporter writes. Metrics: api_calls (one
    per call, HTTP status, the model used), tokens (a count per call), payments (an amount with
    cents, settled or declined), logins (one per login, by user) and storage_gb (one reading
    per customer and day, a gauge with fractions).
    """
    n_cust = traffic.customers.height
    requests = int(traffic.per_day[day])
    hour = rng.choice(24, size=requests, p=HOURLY / HOURLY.sum())
    cust = rng.choice(n_cust, size=requests, p=traffic.weights)
    kind = np.searchsorted(np.cumsum(METRIC_P), rng.random(requests), side="right")
    metric = METRICS[np.minimum(kind, len(METRICS) - 2)]
    # One storage reading per customer and day, at a random hour.
    hour = np.concatenate([hour, rng.integers(0, 24, n_cust)])
    cust = np.concatenate([cust, np.arange(n_cust)])
    metric = np.concatenate([metric, np.full(n_cust, "storage_gb")])
    total = requests + n_cust
    micros = (day * 86_400 + hour * 3600 + rng.integers(0, 3600, total)) * 1_000_000 + rng.integers(
        0, 1000, total
    ) * 1000
    start_us = int(dt.datetime.combine(cfg.start, dt.time(), dt.UTC).timestamp()) * 1_000_000
    tokens = np.maximum(1, rng.lognormal(6.5, 1.0, total).astype(np.int64))
    cents = np.maximum(50, rng.lognormal(8.0, 1.0, total).astype(np.int64))
    hundredths = rng.integers(100, 30_000, total)  # 1.00 to 299.99 GB
    status = np.where(
        metric == "payments",
        np.where(rng.random(total) < 0.9, 200, 402),
        rng.choice(STATUSES, size=total, p=STATUS_P),
    )
    model = np.where(rng.random(total) < 0.3, "large", "small")
    user = rng.integers(0, 40, total)
    # Late events reach the lake in a later day's export (up to five days late).
    late = rng.random(total) < cfg.late_rate
    export_day = np.minimum(day + np.where(late, rng.integers(1, 6, total), 0), cfg.days - 1)
    m = pl.col("metric")
    return (
        pl.DataFrame(
            {
                "occurred_us": start_us + micros,
                "customer_id": traffic.customers["customer_id"].gather(cust),
                "metric": metric,
                "tokens": tokens,
                "cents": cents,
                "hundredths": hundredths,
                "status": status.astype(np.int32),
                "model": model,
                "user": user,
                "export_day": export_day,
            }
        )
        .sort("occurred_us")
        .with_row_index("seq", offset=first_seq)
        .select(
            pl.format(
                "evt_{}_{}", pl.lit(cfg.seed), pl.col("seq").cast(pl.String).str.zfill(10)
            ).alias("event_id"),
            pl.from_epoch("occurred_us", time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("occurred_at"),
            "occurred_us",
            "customer_id",
            "metric",
            pl.when(m == "tokens")
            .then(pl.col("tokens").cast(pl.String))
            .when(m == "payments")
            .then(_hundredths_text("cents"))
            .when(m == "storage_gb")
            .then(_hundredths_text("hundredths"))
            .otherwise(pl.lit("1"))
            .alias("quantity"),
            pl.when(m == "storage_gb").then(None).otherwise(pl.col("status")).alias("status"),
            pl.when(m.is_in(["api_calls", "tokens"]))
            .then(pl.concat_str(pl.lit('{"model":"'), pl.col("model"), pl.lit('"}')))
            .when(m == "logins")
            .then(
                pl.concat_str(
                    pl.lit('{"user_id":"u_'),
                    pl.col("user").cast(pl.String).str.zfill(3),
                    pl.lit('"}'),
                )
            )
            .alias("properties"),
            "export_day",
        )
    )


def _faults(
    cfg: GenerateConfig, events: pl.DataFrame, day: int, rng: np.random.Generator
) -> pl.DataFrame:
    """Rows of one day that must be quarantined, one reason each (every reason every day)."""
    n = max(len(FAULTS), int(events.height * cfg.fault_rate))
    seed = int(rng.integers(0, 2**32))
    sample = events.sample(n, seed=seed, with_replacement=True).with_columns(
        pl.Series("fault", [FAULTS[i % len(FAULTS)] for i in range(n)]),
        pl.format("bad_{}_{}_{}", pl.lit(cfg.seed), pl.lit(day), pl.int_range(pl.len())).alias(
            "event_id"
        ),
    )
    return sample.with_columns(
        pl.when(pl.col("fault") == "missing_event_id")
        .then(pl.lit(""))
        .otherwise(pl.col("event_id"))
        .alias("event_id"),
        pl.when(pl.col("fault") == "unknown_customer")
        .then(pl.lit("cus_unknown"))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id"),
        pl.when(pl.col("fault") == "unknown_metric")
        .then(pl.lit("gpu_seconds"))
        .otherwise(pl.col("metric"))
        .alias("metric"),
        pl.when(pl.col("fault") == "future_timestamp")
        .then(pl.col("occurred_at").dt.offset_by("3y"))
        .otherwise(pl.col("occurred_at"))
        .alias("occurred_at"),
    )


def _raw_frame(events: pl.DataFrame) -> pl.DataFrame:
    """Events in the flat export schema, all as text as an exporter would write them."""
    ts = pl.col("occurred_at").dt.to_string("%Y-%m-%dT%H:%M:%S%.3fZ")
    fault = pl.col("fault") if "fault" in events.columns else pl.lit(None, pl.String)
    return events.select(
        "event_id",
        pl.when(fault == "bad_timestamp")
        .then(pl.lit("yesterday at noon"))
        .otherwise(ts)
        .alias("occurred_at"),
        "customer_id",
        "metric",
        pl.when(fault == "bad_quantity")
        .then(pl.lit("lots"))
        .when(fault == "negative_quantity")
        .then(pl.lit("-5"))
        .otherwise(pl.col("quantity"))
        .alias("quantity"),
        pl.col("status").cast(pl.String),
        "properties",
        "export_day",
    )


@contextlib.contextmanager
def _gzip(path: Path) -> Iterator[gzip.GzipFile]:
    """A gzip file whose bytes depend only on its content (no time or name in the header), so
    the same world written twice is the same files."""
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", 1, raw, mtime=0) as fh:
        yield fh


def _write_export(rows: pl.DataFrame, path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        rows.write_csv(path)
    elif kind == "csv.gz":
        with _gzip(path) as fh:
            rows.write_csv(fh)
    elif kind == "parquet":
        rows.write_parquet(path)
    else:  # jsonl.gz: odd days as CloudEvents, even days flat with epoch-millisecond timestamps
        if kind == "cloudevents":
            body = rows.select(
                pl.lit("1.0").alias("specversion"),
                pl.col("event_id").alias("id"),
                pl.lit("/api/gateway").alias("source"),
                pl.col("metric").alias("type"),
                pl.col("occurred_at").alias("time"),
                pl.col("customer_id").alias("subject"),
                pl.struct(
                    pl.col("quantity"),
                    pl.col("status").cast(pl.Int32, strict=False),
                    *[
                        pl.col("properties").str.json_path_match(f"$.{key}").alias(key)
                        for key in PROPERTY_KEYS
                    ],
                ).alias("data"),
            )
        else:
            epoch = pl.col("occurred_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", strict=False)
            body = rows.with_columns(
                pl.when(epoch.is_not_null())
                .then(epoch.dt.epoch("ms").cast(pl.String))
                .otherwise(pl.col("occurred_at"))
                .alias("occurred_at")
            )
        with _gzip(path) as fh:
            body.write_ndjson(fh)


def _export_kind(day: int) -> tuple[str, str]:
    """The format of a day's export file and its suffix: CSV, gzipped CSV, JSON lines (flat
    and CloudEvents) and Parquet in turn."""
    kind = ("csv", "jsonl", "parquet")[day % 3]
    if kind == "csv" and day % 2:
        kind = "csv.gz"
    if kind == "jsonl":
        kind = "cloudevents" if day % 2 else "jsonl"
    return kind, {"cloudevents": "jsonl.gz", "jsonl": "jsonl.gz"}.get(kind, kind)


def generate(home: Home, cfg: GenerateConfig, *, progress=lambda _m: None) -> GenerateSummary:
    """Write a complete synthetic world into `home` (landing files and price book).

    Day by day: one day's events are in memory at a time, with the late events and
    re-exported duplicates waiting for a later day's file, so memory stays flat in the number
    of days. Each day draws from its own generator (seeded by the world's seed and the day).
    """
    rng = np.random.default_rng(cfg.seed)
    home.pricing.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PRICE_BOOK, home.pricing / "plans.yaml")
    book = load_price_book(price_book_files(home.pricing), base=home.root)
    ref = home.landing_reference
    ref.mkdir(parents=True, exist_ok=True)
    customers = customers_of(cfg, rng)
    subs = subscriptions(cfg, customers)
    customers.write_csv(ref / "customers.csv")
    subs.write_csv(ref / "subscriptions.csv")
    grants = credit_grants(cfg, subs)
    grants.write_csv(ref / "credit_grants.csv")
    topups = credit_topups(subs)
    topups.write_csv(ref / "credit_topups.csv")
    redemptions = coupon_redemptions(cfg, customers)
    redemptions.write_csv(ref / "coupon_redemptions.csv")
    (ref / "seller.yaml").write_text(SELLER, encoding="utf-8")
    progress(f"reference data: {customers.height} customers, {subs.height} subscriptions")

    traffic = _traffic(cfg, customers, rng)
    waiting: list[pl.DataFrame] = []  # raw rows bound for a later day's export
    daily_groups: list[pl.DataFrame] = []
    events = raw_rows = duplicates = faults = files = 0
    for d in range(cfg.days):
        day_rng = np.random.default_rng([cfg.seed, d])
        truth = _day_events(cfg, traffic, d, events, day_rng)
        events += truth.height
        daily_groups.append(
            usage_groups(truth.lazy().with_columns(pl.col("quantity").cast(QUANTITY_TYPE)))
        )
        bad = _faults(cfg, truth, d, day_rng)
        # An overlapping re-export: duplicates appear again in the next day's file.
        dups = truth.filter(pl.Series(day_rng.random(truth.height) < cfg.duplicate_rate))
        dups = dups.with_columns(
            (pl.col("export_day") + 1).clip(upper_bound=cfg.days - 1).alias("export_day")
        )
        duplicates, faults = duplicates + dups.height, faults + bad.height
        raw = pl.concat([*waiting, _raw_frame(truth), _raw_frame(dups), _raw_frame(bad)])
        due = pl.col("export_day") == d
        waiting = [raw.filter(~due)]
        rows = raw.filter(due).drop("export_day")
        rows = rows.sample(fraction=1.0, shuffle=True, seed=cfg.seed + d)
        day = cfg.start + dt.timedelta(days=d)
        kind, suffix = _export_kind(d)
        _write_export(
            rows, home.landing_usage / f"{day:%Y/%m/%d}" / f"usage-{day:%Y%m%d}.{suffix}", kind
        )
        raw_rows, files = raw_rows + rows.height, files + 1
        if (d + 1) % 10 == 0 or d + 1 == cfg.days:
            progress(f"day {d + 1} of {cfg.days}: {events:,} events so far")
    # Syntactically broken rows an exporter sometimes produces, and one exact re-delivery.
    first = cfg.start
    with (home.landing_usage / f"{first:%Y/%m/%d}" / "usage-manual-fix.csv").open("w") as fh:
        fh.write("event_id,occurred_at,customer_id,metric,quantity,status,properties\n")
        fh.write(f"man_1,{first}T12:00:00Z,cus_0001,api_calls,1,200\n")  # ragged: one field short
        fh.write(
            f"man_2,{first}T12:00:00Z,cus_0001,api_calls,1,200,{{}},extra\n"
        )  # ragged: one too many
    files += 1
    redelivered = home.landing_usage / "redelivered" / f"usage-{first:%Y%m%d}-copy"
    src = next((home.landing_usage / f"{first:%Y/%m/%d}").glob("usage-*[0-9].*"))
    redelivered.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, redelivered.with_name(redelivered.name + "".join(src.suffixes)))
    files += 1

    billed = billed_invoices(
        pl.concat(daily_groups),
        subs,
        customers,
        book,
        grants,
        redemptions,
        topups,
        start=cfg.start,
        end=cfg.start + dt.timedelta(days=cfg.days),
        rng=rng,
    )
    billed.write_csv(ref / "billed_invoices.csv")
    budgets(billed).write_csv(ref / "budgets.csv")
    progress(f"{files} export files, {raw_rows + 2:,} raw rows")
    return GenerateSummary(
        events=events,
        raw_rows=raw_rows + 2,
        duplicates=duplicates,
        faults=faults + 2,
        files=files,
    )
