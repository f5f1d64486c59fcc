"""Live spend, measured: how long a landed export takes to reach a customer's spend and feed
while `tally watch` runs (`make bench` prints it; `python bench/freshness.py` alone).

The nightly scenario's world (by default 2,000 customers, 60 days of 300,000 events): a home
is given all but the last day and runs the nightly; a second home only the first 5 days. Then
`tally watch` runs on each while exports of `--drop-events` events, cut from the last day's
usage, are dropped at random moments (written as `*.tmp`, then renamed, as an exporter would).
For each drop: landing to spend (the warehouse with the spend marts swapped in after the drop's
batch is committed), landing to the feed (the JSON feed of a customer in the drop rewritten).
Reported: p50 and p95 of each, one micro-batch's time after 5 days and after 59 (from the
watch's own lines), and the watch process's peak memory. Then the nightly with micro-batches
interleaved: the last day's exports land on the watched home and on a copy of it made before
the watch, which took the same drops in one run instead; each runs the nightly, timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nightly import TALLY, deliver, exports_by_day, run_tally  # noqa: E402

from demo.generate import GenerateConfig, generate  # noqa: E402
from lake.home import Home, safe_file_name  # noqa: E402

# Reports the child's pid first (to signal it), its peak memory last.
_WATCH = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "print(f'PID {p.pid}', file=sys.stderr, flush=True)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(f'PEAK_KIB {usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)
MICRO_BATCH = re.compile(r"micro-batch \w+: .* in (\d+\.\d) s")


def drops_from(days: list[list[Path]], usage: Path, size: int, count: int, seed: int):
    """`count` CSV exports of `size` events each, made of real rows of the world's CSV and
    Parquet exports (the latest days first), moved to the last day with ids of their own, so
    none is a duplicate of what the homes hold."""
    columns = ["event_id", "occurred_at", "customer_id", "metric", "quantity", "status"]
    frames, rows = [], 0
    for day in reversed(days):
        for path in day:
            if not path.relative_to(usage).parts[0].isdigit():
                continue  # a re-delivered copy: not a day's own export
            if path.name.endswith(".parquet"):
                frame = pl.read_parquet(path)
            elif path.name.endswith(".csv"):
                frame = pl.read_csv(path, infer_schema=False)
            else:
                continue
            if set(columns) <= set(frame.columns):
                frames.append(frame.select([pl.col(c).cast(pl.String) for c in columns]))
                rows += frame.height
        if rows >= size * count:
            break
    if not frames:
        raise SystemExit("the world has no CSV or Parquet export to cut drops from")
    last = max(
        p.relative_to(usage).parts[:3]
        for d in days
        for p in d
        if p.relative_to(usage).parts[0].isdigit()
    )
    day = "-".join(last)
    events = (
        pl.concat(frames)
        .filter(pl.col("occurred_at").str.len_chars() >= 19)
        .sample(fraction=1.0, shuffle=True, seed=seed)
        .with_columns(
            pl.format("drop_{}", pl.int_range(pl.len())).alias("event_id"),
            pl.concat_str(pl.lit(day), pl.col("occurred_at").str.slice(10)).alias("occurred_at"),
        )
    )
    return [events.slice(i * size, size) for i in range(count) if events.height >= (i + 1) * size]


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def watch_and_drop(home: Home, drops: list[pl.DataFrame], seed: int, gap: tuple[float, float]):
    """Run `tally watch` on `home`, drop each export at a random moment, time what shows."""
    rng = random.Random(seed)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCH,
            str(TALLY),
            "watch",
            "--home",
            str(home.root),
            "--interval",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    child = int(proc.stderr.readline().split()[1])
    assert proc.stdout.readline().startswith("watch:")
    spend, feed = [], []
    folder = home.landing_usage / "live"
    folder.mkdir(parents=True, exist_ok=True)
    for n, events in enumerate(drops):
        time.sleep(rng.uniform(*gap))
        customer = events["customer_id"][0]
        page = home.reports / "customers" / f"{safe_file_name(customer)}.json"
        page_before = page.stat().st_mtime_ns if page.exists() else 0
        warehouse_before = _inode(home.warehouse)
        tmp = folder / f"drop-{n:02d}.csv.tmp"
        events.write_csv(tmp)
        landed = time.monotonic()
        tmp.rename(tmp.with_suffix(""))  # drop-NN.csv
        seen_spend = seen_feed = None
        while (seen_spend is None or seen_feed is None) and time.monotonic() - landed < 300:
            now = time.monotonic()
            if seen_spend is None and _inode(home.warehouse) != warehouse_before:
                seen_spend = now - landed
            if seen_feed is None and page.exists() and page.stat().st_mtime_ns != page_before:
                seen_feed = now - landed
            time.sleep(0.1)
        if seen_feed is None:  # a drop whose customer's figures did not move (all duplicates?)
            print(f"  drop {n + 1}: {customer}'s feed was not rewritten within 300 s")
        spend.append(seen_spend if seen_spend is not None else float("inf"))
        feed.append(seen_feed if seen_feed is not None else float("inf"))
        print(
            f"  drop {n + 1}/{len(drops)}: spend {spend[-1]:.1f} s, feed {feed[-1]:.1f} s",
            flush=True,
        )
    os.kill(child, signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    peak = int(err.rsplit("PEAK_KIB ", 1)[1].split()[0]) / (1024 * 1024)
    batches = [float(m) for m in MICRO_BATCH.findall(out)]
    return spend, feed, batches, peak, out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def freshness(world: Home, start: dt.date, scratch: Path, args) -> int:
    days = exports_by_day(world)
    drops = drops_from(days, world.landing_usage, args.drop_events, args.drops, args.seed)
    long = Home.at(scratch / f"live-after-{len(days) - 1}-days")
    deliver(world, long, [f for d in days[:-1] for f in d])
    last = start + dt.timedelta(days=len(days) - 2)
    run_tally("run", "--home", str(long.root), "--from", str(start), "--to", str(last))
    short = Home.at(scratch / "live-after-5-days")
    deliver(world, short, [f for d in days[:5] for f in d])
    run_tally(
        "run",
        "--home",
        str(short.root),
        "--from",
        str(start),
        "--to",
        str(start + dt.timedelta(days=4)),
    )

    plain = Home.at(scratch / "no-micro-batches")
    shutil.copytree(long.root, plain.root, symlinks=True)

    print(
        f"\nlive spend: {len(drops)} drops of {args.drop_events:,} events while `tally watch` runs"
    )
    _, _, short_batches, _, _ = watch_and_drop(short, drops[:2], args.seed, (3, 6))
    spend, feed, long_batches, peak, _ = watch_and_drop(long, drops, args.seed, tuple(args.gap))
    interleaved = nightly_after(world, long, plain, drops, days[-1], last)
    print(
        f"{'landing to spend':<32} p50 {percentile(spend, 0.5):6.1f} s   p95 {percentile(spend, 0.95):6.1f} s"
        "   (targets 30 / 60 s)"
    )
    print(
        f"{'landing to the customer feed':<32} p50 {percentile(feed, 0.5):6.1f} s   p95 {percentile(feed, 0.95):6.1f} s"
        "   (target p95 75 s)"
    )
    short_s = statistics.median(short_batches) if short_batches else float("nan")
    long_s = statistics.median(long_batches) if long_batches else float("nan")
    print(f"{'micro-batch after 5 days':<32} {short_s:6.1f} s (median)")
    print(
        f"{'micro-batch after ' + str(len(days) - 1) + ' days':<32} {long_s:6.1f} s (median), "
        f"ratio {long_s / short_s:.2f} (target <= 1.25)"
    )
    print(f"{'watch peak memory':<32} {peak:6.2f} GiB")
    with_live, without = interleaved
    print(
        f"{'nightly after the micro-batches':<32} {with_live.seconds:6.1f} s, "
        f"peak {with_live.peak_gib:.2f} GiB"
    )
    print(
        f"{'the same nightly, none before':<32} {without.seconds:6.1f} s, "
        f"peak {without.peak_gib:.2f} GiB; ratio {with_live.seconds / without.seconds:.2f}"
    )
    return 0


def nightly_after(world: Home, live: Home, plain: Home, drops, last_day, before: dt.date):
    """The next nightly on the home the micro-batches refreshed and on its copy from before
    the watch, which takes the same drops in one run first: both then hold the same events and
    ingest the last day's exports."""
    folder = plain.landing_usage / "live"
    folder.mkdir(parents=True, exist_ok=True)
    for n, events in enumerate(drops):
        events.write_csv(folder / f"drop-{n:02d}.csv")
    run_tally("run", "--home", str(plain.root), "--from", str(before), "--to", str(before))
    deliver(world, live, last_day)
    deliver(world, plain, last_day)
    day = str(before + dt.timedelta(days=1))
    with_live = run_tally("run", "--home", str(live.root), "--from", day, "--to", day)
    without = run_tally("run", "--home", str(plain.root), "--from", day, "--to", day)
    return with_live, without


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--events-per-day", type=int, default=300_000)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--drop-events", type=int, default=10_000)
    parser.add_argument(
        "--gap",
        type=float,
        nargs=2,
        default=(5.0, 40.0),
        help="seconds between drops: uniform in [A, B]",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tally-bench-live-"))
    world = Home.at(scratch / "world")
    start = dt.date(2026, 8, 1)
    truth = generate(
        world,
        GenerateConfig(
            customers=args.customers,
            days=args.days,
            events_per_day=args.events_per_day,
            start=start,
        ),
    )
    print(f"world: {truth.events:,} events, {args.customers:,} customers, {args.days} days")
    try:
        return freshness(world, start, scratch, args)
    finally:
        if args.keep:
            print(f"kept under {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
