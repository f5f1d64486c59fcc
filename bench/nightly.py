"""The nightly scenario of `make bench`: a nightly run after 5 days of history and
after 60 (the first month closed), the same daily volume, and a run with nothing new.

One generated world of `days` days; two homes receive its exports day by day as a deployment
would: home A the first 5 days, home B all but the last day (its first load), then each gets
the next day's export and runs the nightly. Each run is its own `tally` process, so its peak
memory is its own.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lake.home import Home

ROOT = Path(__file__).resolve().parents[1]
TALLY = ROOT / ".venv" / "bin" / "tally"


@dataclass
class Measured:
    seconds: float
    peak_gib: float
    status: int


# Started from a small Python process, which reports its child's peak: Linux carries the
# resident size of the process that spawns a child into the child's own peak (ru_maxrss is
# kept across exec), so measured straight from the bench (which may hold a generated world)
# every run would report the bench's size.
_PEAK = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(f'PEAK_KIB {usage.ru_maxrss}', file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_tally(*args: str) -> Measured:
    """One `tally` command in its own process: wall seconds, its peak memory, exit status."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, str(TALLY), *args], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1, 3):  # 1 and 3: checks failed, everything was written
        raise RuntimeError(
            f"tally {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    peak_kib = int(proc.stderr.rsplit("PEAK_KIB ", 1)[1].split()[0])
    return Measured(seconds, peak_kib / (1024 * 1024), proc.returncode)


def exports_by_day(world: Home) -> list[list[Path]]:
    """The world's usage exports, one list per day folder (YYYY/MM/DD) in date order; the
    re-delivered copies arrive with the last day."""
    usage = world.landing_usage
    days: dict[str, list[Path]] = {}
    for path in sorted(p for p in usage.rglob("*") if p.is_file()):
        parts = path.relative_to(usage).parts
        key = "/".join(parts[:3]) if parts[0].isdigit() else "~"
        days.setdefault(key, []).append(path)
    late = days.pop("~", [])
    ordered = [days[k] for k in sorted(days)]
    ordered[-1] += late
    return ordered


def deliver(world: Home, home: Home, files: list[Path]) -> None:
    """Copy exports (and, the first time, the price book and reference data) into a home."""
    for folder in ("pricing", "landing/reference"):
        if not (home.root / folder).exists():
            shutil.copytree(world.root / folder, home.root / folder)
    for f in files:
        target = home.root / f.relative_to(world.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)


def nightly(world: Home, start: dt.date, scratch: Path, stage_seconds) -> dict[str, object]:
    """Nightly after 5 days and after all but one day (first month closed), and a no-op run."""
    days = exports_by_day(world)
    out: dict[str, object] = {}

    def run(home: Home, day_index: int) -> Measured:
        day = start + dt.timedelta(days=day_index)
        return run_tally("run", "--home", str(home.root), "--from", str(day), "--to", str(day))

    short = Home.at(scratch / "after-5-days")
    deliver(world, short, [f for d in days[:5] for f in d])
    run(short, 4)
    deliver(world, short, days[5])
    out["nightly_short"] = run(short, 5)
    out["nightly_short_stages"] = stage_seconds(short)

    long = Home.at(scratch / f"after-{len(days) - 1}-days")
    deliver(world, long, [f for d in days[:-1] for f in d])
    out["first_load_history"] = run(long, len(days) - 2)
    month = start.replace(day=1)
    run_tally("close", "--home", str(long.root), "--month", f"{month:%Y-%m}")
    deliver(world, long, days[-1])
    out["nightly_long"] = run(long, len(days) - 1)
    out["nightly_long_stages"] = stage_seconds(long)
    out["noop"] = run(long, len(days) - 1)
    after = stage_seconds(long)  # the latest Dagster run's steps: the nightly's, if none started
    out["noop_stages"] = {} if after == out["nightly_long_stages"] else after
    out["history_days"] = len(days) - 1
    return out
