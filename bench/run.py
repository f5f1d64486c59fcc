"""`make bench`: events/s per stage and end to end, against a DuckDB scan floor, with peak
memory; then the nightly scenario (`bench/nightly.py`) and, on its world, live spend
(`bench/freshness.py`: landing to spend while `tally watch` runs).

Generates N events, then in one run measures: the floor (DuckDB scanning the same raw files and
grouping by customer, metric and day), ingestion, the dbt build, the checks, and the whole
`tally run`. Ratios are reported against the floor measured in the same run, because the
machines are shared and noisy; absolute seconds are only context.

`--nightly-days D --nightly-events-per-day E` (default 60 days of 300,000) measures the nightly
run after 5 days and after D-1 days of history at the same daily volume, their ratio (the
target is at most 1.25), and a run with nothing new (target under 15 s).
"""

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo.generate import GenerateConfig, generate  # noqa: E402
from lake.home import Home  # noqa: E402

# How the bench reads the raw exports, every kind as DuckDB reads it at its fastest: the floor
# selects three columns, `bench/bare_minimum.py` copies all of them.
RAW_READS = {
    "csv": "read_csv(['{usage}/**/*.csv', '{usage}/**/*.csv.gz'], all_varchar = true, "
    "union_by_name = true, ignore_errors = true, null_padding = true)",
    "parquet": "read_parquet('{usage}/**/*.parquet', union_by_name = true)",
    "json": "read_json('{usage}/**/*.jsonl.gz', format = 'newline_delimited', "
    "union_by_name = true, ignore_errors = true)",
}
FLOOR_COLUMNS = {
    "csv": "customer_id, metric, cast(occurred_at as varchar) as ts",
    "parquet": "customer_id, metric, cast(occurred_at as varchar) as ts",
    "json": "coalesce(customer_id, subject), coalesce(metric, type), "
    "cast(coalesce(occurred_at, time) as varchar)",
}
# The floor: grouping rows by customer, metric and day.
FLOOR_QUERY = "select customer_id, metric, left(ts, 10) as day, count(*) from ({rows}) group by all"


def raw_rows_sql(usage: Path, columns: dict[str, str]) -> str:
    """Every raw row, `columns` selected from each kind of export (positionally, union all)."""
    return "\nunion all\n".join(
        f"select {columns[kind]} from {read.format(usage=usage)}"
        for kind, read in RAW_READS.items()
    )


def scan_connection(spill: Path | None = None):
    """An in-memory DuckDB for reading files, outside any home (not the warehouse): what
    DuckDB spills goes to `spill`, never the working directory."""
    import duckdb

    return duckdb.connect(config={"temp_directory": str(spill)} if spill else {})


def floor_seconds(home: Home, con=None) -> float:
    """DuckDB reading every raw export and grouping by customer, metric and day."""
    con = con or scan_connection()
    sql = FLOOR_QUERY.format(rows=raw_rows_sql(home.landing_usage, FLOOR_COLUMNS))
    start = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - start


def stage_peaks(home: Home) -> dict[str, str]:
    """Per-step peak memory of the latest nightly run, as its steps logged it."""
    from dagster import DagsterInstance, RunsFilter

    from orchestration.memory import LOG_PREFIX

    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        run = instance.get_run_records(RunsFilter(job_name="nightly_billing"), limit=1)[
            0
        ].dagster_run
        return {
            record.step_key: record.user_message.removeprefix(LOG_PREFIX)
            for record in instance.all_logs(run.run_id)
            if record.step_key and record.user_message.startswith(LOG_PREFIX)
        }


def stage_seconds(home: Home) -> dict[str, float]:
    """Per-step durations of the latest nightly run, from the Dagster instance under the home."""
    from dagster import DagsterEventType, DagsterInstance, RunsFilter

    with DagsterInstance.from_config(str(home.dagster_home)) as instance:
        run = instance.get_run_records(RunsFilter(job_name="nightly_billing"), limit=1)[
            0
        ].dagster_run
        starts, out = {}, {}
        for record in instance.all_logs(run.run_id):
            ev = record.dagster_event
            if ev is None:
                continue
            if ev.event_type == DagsterEventType.STEP_START:
                starts[ev.step_key] = record.timestamp
            elif ev.event_type == DagsterEventType.STEP_SUCCESS:
                out[ev.step_key] = record.timestamp - starts.get(ev.step_key, record.timestamp)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the bench home for inspection")
    parser.add_argument("--nightly-days", type=int, default=60)
    parser.add_argument("--nightly-events-per-day", type=int, default=300_000)
    parser.add_argument("--nightly-customers", type=int, default=2000)
    parser.add_argument(
        "--only", choices=["first-load", "nightly", "freshness"], help="one scenario only"
    )
    parser.add_argument("--drops", type=int, default=20, help="live spend: exports dropped")
    parser.add_argument("--drop-events", type=int, default=10_000)
    args = parser.parse_args()
    status = 0
    if args.only != "nightly":
        status = first_load(args)
    if args.only in (None, "nightly", "freshness") and status == 0:
        status = nightly_scenario(args)
    return status


def nightly_scenario(args) -> int:
    from nightly import nightly

    root = Path(tempfile.mkdtemp(prefix="tally-bench-nightly-"))
    world = Home.at(root / "world")
    start = dt.date(2026, 8, 1)
    cfg = GenerateConfig(
        customers=args.nightly_customers,
        days=args.nightly_days,
        events_per_day=args.nightly_events_per_day,
        start=start,
    )
    truth = generate(world, cfg)
    print(
        f"\nnightly scenario: {truth.events:,} events over {args.nightly_days} days "
        f"({args.nightly_events_per_day:,} a day, {args.nightly_customers:,} customers)"
    )
    if args.only == "freshness":
        return _freshness(world, start, root, args)
    r = nightly(world, start, root, stage_seconds)
    short, long_, noop = r["nightly_short"], r["nightly_long"], r["noop"]
    print(f"{'run':<40}{'seconds':>9}  {'peak GiB':>8}")
    print(
        f"{'first load of ' + str(r['history_days']) + ' days':<40}"
        f"{r['first_load_history'].seconds:9.1f}  {r['first_load_history'].peak_gib:8.2f}"
    )
    print(f"{'nightly after 5 days':<40}{short.seconds:9.1f}  {short.peak_gib:8.2f}")
    print(
        f"{'nightly after ' + str(r['history_days']) + ' days (1st month closed)':<40}"
        f"{long_.seconds:9.1f}  {long_.peak_gib:8.2f}"
    )
    print(f"{'run with nothing new':<40}{noop.seconds:9.1f}  {noop.peak_gib:8.2f}")
    print(
        f"nightly ratio (long / short history): {long_.seconds / short.seconds:.2f} (target <= 1.25)"
    )
    for name in ("nightly_short_stages", "nightly_long_stages", "noop_stages"):
        stages = ", ".join(
            f"{k} {v:.1f}s" for k, v in sorted(r[name].items(), key=lambda kv: -kv[1])
        )
        stages = stages or "no Dagster run (answered from the last run's outcome)"
        print(f"  {name.removesuffix('_stages')}: {stages}")
    if args.only is None:
        return _freshness(world, start, root, args)
    return _finish(root, args.keep)


def _freshness(world: Home, start: dt.date, root: Path, args) -> int:
    """Live spend on the nightly scenario's world (bench/freshness.py)."""
    from freshness import freshness

    args.gap, args.seed = (5.0, 40.0), 11
    freshness(world, start, root / "live", args)
    return _finish(root, args.keep)


def _finish(root: Path, keep: bool) -> int:
    """Remove the bench's homes, or say where they are kept."""
    if keep:
        print(f"bench homes kept under {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def first_load(args) -> int:

    root = Path(tempfile.mkdtemp(prefix="tally-bench-"))
    home = Home.at(root)
    start = dt.date(2026, 9, 1)
    cfg = GenerateConfig(
        customers=args.customers,
        days=args.days,
        events_per_day=args.events // args.days,
        start=start,
    )
    t0 = time.perf_counter()
    truth = generate(home, cfg)
    gen_s = time.perf_counter() - t0
    print(f"generated {truth.events:,} events ({truth.raw_rows:,} raw rows) in {gen_s:.1f}s")

    floor = floor_seconds(home)
    end = start + dt.timedelta(days=args.days - 1)
    cmd = [
        str(ROOT / ".venv" / "bin" / "tally"),
        "run",
        "--home",
        str(root),
        "--from",
        str(start),
        "--to",
        str(end),
    ]
    from nightly import run_tally

    measured = run_tally(*cmd[1:])
    e2e, peak_gib = measured.seconds, measured.peak_gib
    stages = stage_seconds(home)
    ingest = stages.get("ingest_usage", 0.0)
    dbt = stages.get("tally_dbt_models", 0.0) + stages.get("tally_dbt_issued_models", 0.0)
    checks = sum(v for k, v in stages.items() if "expectations" in k or k == "reconciliation")
    n = truth.raw_rows

    def rate(seconds: float) -> str:
        return f"{n / seconds / 1e6:6.2f} M rows/s" if seconds else "   n/a"

    print(f"\nraw rows: {n:,}   (2 cores; ratios are the figures to compare)")
    print(f"{'stage':<28}{'seconds':>9}  {'throughput':>16}  {'vs floor':>8}")
    print(f"{'floor: DuckDB scan+group':<28}{floor:9.1f}  {rate(floor):>16}  {1.0:8.2f}")
    for name, secs in (
        ("ingest (Polars)", ingest),
        ("dbt build", dbt),
        ("checks (GX)", checks),
        ("end to end (tally run)", e2e),
    ):
        print(f"{name:<28}{secs:9.1f}  {rate(secs):>16}  {floor / secs if secs else 0:8.2f}")
    peaks = stage_peaks(home)
    print(f"peak memory (the run's own): {peak_gib:.2f} GiB")
    print(f"  ingest: {peaks.get('ingest_usage', 'n/a')}")
    print(f"  dbt (its own process): {peaks.get('tally_dbt_models', 'n/a')}")
    return _finish(root, args.keep)


if __name__ == "__main__":
    sys.exit(main())
