"""Every dbt model as a Dagster asset, and dbt tests as asset checks.

The models are split in two around month close: everything upstream of the issued-invoice
store (`tally_dbt_models`), and the models that read it (`tally_dbt_issued_models`), so the
month-close asset can sit between them without a cycle.
"""

import os

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.defs.dbt.project import tally_dbt_project
from orchestration.defs.partitions import daily_partitions, dbt_vars_arg, window_to_vars
from orchestration.settings import TallySettings

ISSUED_SELECTION = "source:issued+"


class TallyDbtTranslator(DagsterDbtTranslator):
    """Asset keys equal model names (`fct_invoices`); sources keep the key in their meta."""

    def get_asset_key(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)


translator = TallyDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _dbt_env(settings: TallySettings) -> None:
    # dbt runs as a subprocess that inherits the environment: it reads the warehouse path from it.
    os.environ["TALLY_HOME"] = str(settings.tally_home.root)
    os.environ["TALLY_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    os.environ.setdefault("DO_NOT_TRACK", "1")
    settings.tally_home.warehouse.parent.mkdir(parents=True, exist_ok=True)


@dbt_assets(
    manifest=tally_dbt_project.manifest_path,
    exclude=ISSUED_SELECTION,
    name="tally_dbt_models",
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dbt_translator=translator,
    pool="warehouse",
)
def tally_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: TallySettings
):
    _dbt_env(settings)
    window = context.partition_time_window
    variables = window_to_vars(window.start, window.end, str(settings.tally_home.lake))
    yield from dbt.cli(["build", *dbt_vars_arg(variables)], context=context).stream()


@dbt_assets(
    manifest=tally_dbt_project.manifest_path,
    select=ISSUED_SELECTION,
    name="tally_dbt_issued_models",
    dagster_dbt_translator=translator,
    pool="warehouse",
)
def tally_dbt_issued_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: TallySettings
):
    _dbt_env(settings)
    variables = {"lake_dir": str(settings.tally_home.lake)}
    yield from dbt.cli(["build", *dbt_vars_arg(variables)], context=context).stream()
