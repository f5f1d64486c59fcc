"""dbt's parse of the project, started ahead of the build on a home's first run.

dbt re-parses the whole project (about 6 s of one core) when it finds no partial parse made
with the same profile, which is every home's first build: the profile names the home. `tally`
starts that parse in a background process as the run begins, with the profile the build will
use, while ingestion reads the exports; the dbt step then hands its result to dbt instead of
parsing again. Runs launched from the UI do not start one and parse as before.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from lake.home import Home
from warehouse.build import build_path
from warehouse.dbt import DBT_PROJECT_DIR, write_run_profile

PARTIAL_PARSE = "partial_parse.msgpack"

# Parses started by this process, by the dbt target they are for.
_STARTED: dict[Path, tuple[subprocess.Popen, Path]] = {}


def dbt_target(home: Home) -> Path:
    """The home's dbt target folder: one per home and engine, so the partial parse carries
    over (dbt parses the whole project again when the profile changes)."""
    return home.dagster_home / (
        "dbt-target" if home.engine == "duckdb" else f"dbt-target-{home.engine}"
    )


def start_parse(home: Home, memory_limit: str) -> None:
    """Start `dbt parse` in the background if the home's dbt target has no partial parse."""
    target = dbt_target(home)
    if (target / PARTIAL_PARSE).exists() or target in _STARTED:
        return
    profiles = write_run_profile(home, build_path(home), memory_limit)
    ahead = target.with_name("dbt-parse-ahead")
    shutil.rmtree(ahead, ignore_errors=True)
    ahead.mkdir(parents=True)
    dbt = Path(sys.executable).parent / "dbt"  # beside this interpreter, as the dbt resource
    args = [str(dbt), "--no-use-colors", "parse", "--project-dir", str(DBT_PROJECT_DIR)]
    args += ["--profiles-dir", str(profiles), "--target-path", str(ahead)]
    args += ["--log-path", str(ahead)]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=DBT_PROJECT_DIR
    )
    _STARTED[target] = (process, ahead)


def adopt_parse(home: Home) -> bool:
    """Before the build: wait for a parse this process started for the home, and give its
    partial parse to dbt if the target still has none. Whether one was adopted."""
    target = dbt_target(home)
    started = _STARTED.pop(target, None)
    if started is None:
        return False
    process, ahead = started
    parsed = process.wait() == 0 and (ahead / PARTIAL_PARSE).exists()
    adopted = parsed and not (target / PARTIAL_PARSE).exists()
    if adopted:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ahead / PARTIAL_PARSE, target / PARTIAL_PARSE)
    shutil.rmtree(ahead, ignore_errors=True)
    return adopted
