"""The profile a run hands dbt names the home literally and keeps the project's other settings."""

from pathlib import Path

import yaml

from lake.home import Home
from warehouse.dbt import write_run_profile


def test_the_run_profile_names_the_build_its_store_the_lake_and_the_memory_limit(tmp_path):
    home = Home.at(tmp_path / "home")
    build = home.warehouse.with_name("tally.duckdb.build")
    folder = write_run_profile(home, build, "3GB")
    output = yaml.safe_load((folder / "profiles.yml").read_text())["tally"]["outputs"]["duckdb"]
    assert output["path"] == str(tmp_path / "home" / "warehouse" / "tally.duckdb.build")
    assert output["external_root"] == str(tmp_path / "home" / "lake")
    # The incremental models' tables are updated in place beside the warehouse, not copied.
    assert output["attach"] == [
        {
            "path": str(tmp_path / "home" / "warehouse" / "incremental.duckdb"),
            "alias": "incremental",
        }
    ]
    assert output["settings"] == {
        "memory_limit": "3GB",
        "preserve_insertion_order": False,
        "TimeZone": "UTC",
    }
    assert "{{" not in (folder / "profiles.yml").read_text()  # nothing left for dbt to look up
    assert folder.is_relative_to(tmp_path / "home")


def test_an_unchanged_profile_is_not_rewritten_so_dbt_keeps_its_partial_parse(tmp_path):
    home = Home.at(tmp_path)
    build = Path(tmp_path / "warehouse" / "tally.duckdb.build")
    profile = write_run_profile(home, build, "4GB") / "profiles.yml"
    first = profile.stat().st_mtime_ns
    write_run_profile(home, build, "4GB")
    assert profile.stat().st_mtime_ns == first
    write_run_profile(home, build, "2GB")
    assert "memory_limit: 2GB" in profile.read_text()
