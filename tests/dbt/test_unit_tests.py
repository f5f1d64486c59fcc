"""The dbt project's `unit_tests:` (given rows in, expected rows out, beside the models), run on
their own: an empty lake, `dbt build --empty` so every relation exists with its types (dbt types
a unit test's fixtures from the relations it reads), then `dbt test --select test_type:unit`.
What passed is read from dbt's run_results.json, not from its console."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import yaml

from lake.home import Home
from lake.io import ensure_lake
from lake.schemas import SOURCE_SCHEMAS
from warehouse.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR, write_run_profile

SOURCES = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"


def _empty_lake(home: Home) -> None:
    """Every file the dbt sources read, with its columns and no rows."""
    ensure_lake(home)  # the folders read by glob, each with an empty file
    for source in yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["sources"]:
        for table in source["tables"]:
            files = table["meta"]["files"]
            if "*" not in files:
                path = home.lake / files
                path.parent.mkdir(parents=True, exist_ok=True)
                schema = SOURCE_SCHEMAS[f"{source['name']}.{table['name']}"]
                pl.DataFrame(schema=schema).write_parquet(path)


def _dbt(home: Home, target: Path, *args: str) -> list[dict]:
    """A dbt command on `home`; the results it wrote (run_results.json)."""
    profiles = write_run_profile(home, home.warehouse, "1GB")
    done = subprocess.run(
        [
            str(DBT_EXECUTABLE),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(profiles),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**os.environ, "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    failed = [r for r in results if r["status"] not in ("success", "pass")]
    assert done.returncode == 0 and not failed, (failed, done.stdout[-3000:])
    return results


@dataclass(frozen=True)
class UnitRun:
    """What `dbt test --select test_type:unit` ran, and the unit tests its manifest declares."""

    results: list[dict]
    declared: list[str]


@pytest.fixture(scope="module")
def unit_run(tmp_path_factory) -> UnitRun:
    home = Home.at(tmp_path_factory.mktemp("empty"))
    home.warehouse.parent.mkdir(parents=True)
    _empty_lake(home)
    target = tmp_path_factory.mktemp("target")
    _dbt(home, target, "build", "--empty", "--exclude-resource-type", "unit_test")
    results = _dbt(home, target, "test", "--select", "test_type:unit")
    manifest = json.loads((target / "manifest.json").read_text())
    return UnitRun(results, sorted(manifest["unit_tests"]))


def test_every_unit_test_of_the_project_passes(unit_run):
    units = [r for r in unit_run.results if r["unique_id"].startswith("unit_test.")]
    assert unit_run.declared and sorted(r["unique_id"] for r in units) == unit_run.declared
    assert {r["status"] for r in units} == {"pass"}
