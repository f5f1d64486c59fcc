"""The dbt project handle. Kept apart from @dbt_assets so the manifest can be built ahead of
time: `dagster-dbt project prepare-and-package --file orchestration/defs/dbt/project.py`."""

from dagster_dbt import DbtProject

from orchestration.defs.dbt.paths import DBT_PROJECT_DIR

tally_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
tally_dbt_project.prepare_if_dev()
