"""The dbt project handle. Kept apart from @dbt_assets so the manifest can be built ahead of
time: `dagster-dbt project prepare-and-package --file orchestration/defs/dbt/project.py`."""

from dagster_dbt import DbtCliResource, DbtProject, DbtProjectPreparer

from warehouse.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR


class VenvDbtPreparer(DbtProjectPreparer):
    """Under `dagster dev`, parse the project before loading it, as dagster-dbt's own preparer
    does, but with the dbt beside this interpreter: the UI loads whether or not the venv is on
    the PATH (dagster-dbt's preparer runs the PATH's `dbt`). The project has no packages."""

    def prepare_if_dev(self, project: DbtProject) -> None:
        if self.using_dagster_dev():
            self.prepare(project)

    def prepare(self, project: DbtProject) -> None:
        dbt = DbtCliResource(
            project_dir=project,
            dbt_executable=str(DBT_EXECUTABLE),
            global_config_flags=["--no-use-colors"],
        )
        dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()


tally_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
VenvDbtPreparer().prepare_if_dev(tally_dbt_project)
