"""What a first load costs at the very least on this machine, in floors (issue 14, item 5).

`bench/run.py` compares `tally run` with a floor: DuckDB scanning the raw files and grouping
them by customer, metric and day. This measures, in one run on one generated world, what any
first load must still do beyond that scan, each part done the cheapest way known here and
with none of tally's rules:

- copy: DuckDB reading every raw file (the floor's reads) and writing the rows to one Parquet
  file as text: no validation, no deduplication, no partitions by day;
- aggregate: the floor's query again, over that copy instead of the raw files;
- start: the Python a run imports before its first step (tally's job: Dagster, dagster-dbt),
  and the dbt command's own imports (a second process, as dagster-dbt runs it).

Usage: `.venv/bin/python bench/bare_minimum.py --events 30000000` (or `--home DIR` for a
world already generated). Prints each part in seconds and in floors. Like the floor's query,
it reads every kind of export the generator writes, so the world needs a week or more of
days (the default is 30): DuckDB refuses a pattern that matches no file.
"""

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import FLOOR_QUERY, floor_seconds, raw_rows_sql, scan_connection  # noqa: E402

from demo.generate import GenerateConfig, generate  # noqa: E402
from lake.home import Home  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")


# Every column, as text, selected from each kind of export the floor reads.
ALL_COLUMNS = {
    "csv": "event_id, customer_id, metric, cast(occurred_at as varchar) as ts, quantity, "
    "status, properties",
    "parquet": "cast(event_id as varchar), customer_id, metric, cast(occurred_at as varchar), "
    "cast(quantity as varchar), cast(status as varchar), cast(properties as varchar)",
    "json": "coalesce(event_id, id), coalesce(customer_id, subject), coalesce(metric, type), "
    "cast(coalesce(occurred_at, time) as varchar), "
    "coalesce(cast(quantity as varchar), cast(data.quantity as varchar)), "
    "coalesce(cast(status as varchar), cast(data.status as varchar)), "
    "coalesce(cast(properties as varchar), cast(data as varchar))",
}


def timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000_000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--home", type=Path, help="a world generated before (not generated again)")
    args = parser.parse_args()
    if args.home is None and args.days < 7:
        parser.error("--days must be at least 7: every kind of export must be there")

    scratch = Path(tempfile.mkdtemp(prefix="tally-bare-"))
    try:
        root = args.home or scratch / "world"
        home = Home.at(root)
        if args.home is None:
            generate(
                home,
                GenerateConfig(
                    customers=args.customers,
                    days=args.days,
                    events_per_day=args.events // args.days,
                    start=dt.date(2026, 9, 1),
                ),
            )
        copy = scratch / "copy.parquet"
        con = scan_connection(spill=scratch / "spill")
        floor = floor_seconds(home, con)
        rows = raw_rows_sql(home.landing_usage, ALL_COLUMNS)
        copied = timed(lambda: con.execute(f"copy ({rows}) to '{copy}' (format parquet)"))
        aggregated = timed(
            lambda: con.execute(
                FLOOR_QUERY.format(rows=f"select * from read_parquet('{copy}')")
            ).fetchall()
        )
        tally_start = timed(
            lambda: subprocess.run([PYTHON, "-c", "import orchestration.definitions"], check=True)
        )
        dbt_start = timed(
            lambda: subprocess.run(
                [PYTHON, "-c", "import dbt.cli.main, dbt.adapters.duckdb"], check=True
            )
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    parts = [
        ("floor: DuckDB scan+group", floor),
        ("copy raw -> Parquet (DuckDB)", copied),
        ("aggregate the copy", aggregated),
        ("start: tally's job", tally_start),
        ("start: dbt", dbt_start),
    ]
    print(f"\n{'part':<32}{'seconds':>9}  {'floors':>7}")
    for name, seconds in parts:
        print(f"{name:<32}{seconds:9.1f}  {seconds / floor:7.2f}")
    least = copied + aggregated + tally_start + dbt_start
    print(f"{'at least (copy to dbt start)':<32}{least:9.1f}  {least / floor:7.2f}")
    print(f"{'end to end at 0.25 of the floor':<32}{4 * floor:9.1f}  {4.0:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
