"""Resources shared by every asset."""

from functools import cached_property
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from packaging.version import Version

from orchestration.defs.dbt.project import tally_dbt_project
from orchestration.settings import TallySettings
from warehouse.dbt import DBT_EXECUTABLE


class TallyDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs paid before every dbt invocation (several
    seconds of every nightly run):

    - it runs `dbt --version` in a subprocess (4 s) to tell dbt Core from the Fusion engine; the
      dbt here is the dbt-core pinned in pyproject.toml, so its version is read from the package;
    - it opens a dbt adapter in-process (2.5 s) only to fetch row counts and column metadata,
      which tally's dbt assets never request.

    Both override private members of the pinned dagster-dbt 0.29.x; a test holds each by name and
    signature (tests/orchestration/test_private_overrides.py), so an upgrade that renames one
    fails there rather than silently making every run slower.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def resources(settings: TallySettings) -> dict[str, object]:
    return {
        "settings": settings,
        "dbt": TallyDbtCliResource(
            project_dir=tally_dbt_project,
            profiles_dir=str(tally_dbt_project.project_dir),
            dbt_executable=str(DBT_EXECUTABLE),
            # Plain text in the dbt log under .dagster/logs (no colour codes).
            global_config_flags=["--no-use-colors"],
        ),
    }
