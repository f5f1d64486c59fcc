"""Resources shared by every asset."""

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.project import tally_dbt_project
from orchestration.settings import TallySettings


def resources() -> dict[str, object]:
    return {
        "settings": TallySettings(home=dg.EnvVar("TALLY_HOME")),
        "dbt": DbtCliResource(
            project_dir=tally_dbt_project,
            profiles_dir=str(tally_dbt_project.project_dir),
            # The dbt installed beside this interpreter, so an unactivated venv works too.
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
    }
