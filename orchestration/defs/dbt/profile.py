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
from lake.records import write_text_atomically
from orchestration.defs.dbt.paths import DBT_PROJECT_DIR

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
    its lake filled in. The dbt build and tally's own reads (orchestration/spark.py) both
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
