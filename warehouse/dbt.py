"""The dbt project as the warehouse layer sees it: where it is, a fingerprint of its sources, and
the profile of one home's run.

dbt runs as a subprocess. Rather than relay the home through environment variables, each run
hands dbt a profile naming it literally: the warehouse being built and the lake the sources read
(`external_root`, see dbt_project.yml). Everything else comes from the project's profiles.yml,
which stays the profile for running dbt by hand. The profile is rewritten only when its content
changes: dbt re-parses the whole project when the profile changes. Nothing here imports dbt or
Dagster (the CLI asks for the fingerprint before it starts either).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import yaml

from lake.home import Home
from lake.records import write_text_atomically

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# The dbt installed beside this interpreter: an unactivated venv works too.
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"
# What dbt writes inside the project folder: not sources.
BUILD_OUTPUT = frozenset({"target", "logs", "dbt_packages", ".user.yml"})


def models_fingerprint() -> str:
    """sha256 of the project's manifest and of every source file of the project (models,
    macros, tests, seeds, its configuration). The manifest alone changes with any model, test
    or macro, but only once `make install` rebuilds it: code updated without that would have
    left a run with no new data answering "nothing new" over marts the old SQL built."""
    digest = hashlib.sha256(MANIFEST.read_bytes())
    for path in _project_sources():
        digest.update(path.relative_to(DBT_PROJECT_DIR).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _project_sources() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(DBT_PROJECT_DIR):
        top = Path(folder) == DBT_PROJECT_DIR
        dirs[:] = sorted(d for d in dirs if not (top and d in BUILD_OUTPUT))
        found.extend(
            Path(folder) / name for name in sorted(files) if not (top and name in BUILD_OUTPUT)
        )
    return found


PROFILE = "tally"
# The attached database of the incremental models' tables (macros/incremental.sql).
INCREMENTAL = "incremental"
# Spark's logging in tally's sessions: errors only.
SPARK_LOG = DBT_PROJECT_DIR / "spark" / "log4j2.properties"


def project_output(engine: str) -> dict:
    """The project's profiles.yml output for an engine, as written (templates unrendered)."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    return profiles[PROFILE]["outputs"][engine]


def spark_parameters(home: Home, metastore: Path | None = None) -> dict[str, str]:
    """The Spark session's settings for a home: the project's (profiles.yml), with the home's
    warehouse folder, its catalog (a Derby metastore; `metastore` reads another copy of it) and
    its lake filled in. The dbt build and tally's own reads (warehouse/spark.py) both
    start Spark from these."""
    folder = home.warehouse_folder
    metastore = metastore or folder / "metastore_db"
    return {
        **project_output("spark")["server_side_parameters"],
        "spark.sql.warehouse.dir": str(folder),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={metastore.parent} -Dlog4j2.configurationFile={SPARK_LOG}"
        ),
        "spark.tally.lake": str(home.lake),
    }


def run_profile(home: Home, database: Path, memory_limit: str) -> dict:
    """The project's profile for the home's engine, with this run's paths filled in: on DuckDB
    the warehouse being built, the incremental store, the lake and the memory limit; on Spark
    the session's settings (`spark_parameters`)."""
    output = project_output(home.engine)
    if home.engine == "spark":
        output["server_side_parameters"] = spark_parameters(home)
    else:
        output["path"] = str(database)
        output["attach"] = [{"path": str(home.incremental_store), "alias": INCREMENTAL}]
        output["external_root"] = str(home.lake)
        output["settings"]["memory_limit"] = memory_limit
    return {PROFILE: {"target": home.engine, "outputs": {home.engine: output}}}


def write_run_profile(home: Home, database: Path, memory_limit: str) -> Path:
    """Write the run's profile under the home; the folder to give dbt as `--profiles-dir`."""
    folder = home.dagster_home / "dbt-profile"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profiles.yml"
    text = "# Written by tally for each dbt run in this home.\n" + yaml.safe_dump(
        run_profile(home, database, memory_limit), sort_keys=False
    )
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_text_atomically(path, text)
    return folder
