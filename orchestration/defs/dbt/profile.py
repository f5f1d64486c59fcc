"""The dbt profile of one home's run, written as a file beside the home's dbt target.

dbt runs as a subprocess. Rather than relay the home through environment variables, each run
hands dbt a profile naming it literally: the warehouse being built and the lake the sources read
(`external_root`, see dbt_project.yml). Everything else comes from the project's profiles.yml,
which stays the profile for running dbt by hand. The file is rewritten only when its content
changes: dbt re-parses the whole project when the profile changes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lake.home import Home
from orchestration.defs.dbt.paths import DBT_PROJECT_DIR

PROFILE, TARGET = "tally", "duckdb"
# The attached database of the incremental models' tables (macros/incremental.sql).
INCREMENTAL = "incremental"


def run_profile(home: Home, database: Path, memory_limit: str) -> dict:
    """The project's profile with this run's warehouse, incremental store, lake and memory
    limit filled in."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    output = profiles[PROFILE]["outputs"][TARGET]
    output["path"] = str(database)
    output["attach"] = [{"path": str(home.incremental_store), "alias": INCREMENTAL}]
    output["external_root"] = str(home.lake)
    output["settings"]["memory_limit"] = memory_limit
    return {PROFILE: {"target": TARGET, "outputs": {TARGET: output}}}


def write_run_profile(home: Home, database: Path, memory_limit: str) -> Path:
    """Write the run's profile under the home; the folder to give dbt as `--profiles-dir`."""
    folder = home.dagster_home / "dbt-profile"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    text = "# Written by tally for each dbt run in this home.\n" + yaml.safe_dump(
        run_profile(home, database, memory_limit), sort_keys=False
    )
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return folder
