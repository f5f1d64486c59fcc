"""Every dbt model as a Dagster asset, and dbt tests as asset checks.

One unpartitioned @dbt_assets: which usage dates a build reads is decided inside dbt from the
lake's batch records (the incremental models), not by Dagster partitions. The nightly job runs
every model but the full audit (one dbt invocation); month close selects the full audit of the
lake (`audit_lake`, before issuing) and the models downstream of the issued-invoice store. The
op-level cycle (models -> issue_invoices -> models) is resolved by Dagster because the asset is
subsettable.
"""

from graphlib import TopologicalSorter
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from lake.freshness import mark_building, mark_built, unchanged_since_built
from lake.records import read_json_record
from orchestration.defs.dbt.project import tally_dbt_project
from orchestration.memory import ChildPeak, describe
from orchestration.settings import TallySettings, import_in_background, launched_by_cli
from warehouse.build import WarehouseBusy, build_path, finish_build, set_aside_unusable, start_build
from warehouse.dbt import models_fingerprint, write_run_profile
from warehouse.parse_ahead import adopt_parse, dbt_target


class TallyDbtTranslator(DagsterDbtTranslator):
    """Asset keys equal model names (`fct_invoices`); sources keep the key in their meta. In
    the UI, models are grouped by the schema they land in (staging, intermediate, marts,
    reconciliation, audit) and described by their YAML description, without the raw SQL
    block dagster-dbt appends (the SQL is one click away, under the asset's code)."""

    def get_asset_key(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props):
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        return super().get_group_name(dbt_resource_props)

    def get_description(self, dbt_resource_props):
        return dbt_resource_props.get("description") or (
            f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"
        )


# The full audit of the lake (models/audit), built by the month_close job only.
AUDIT = dg.AssetKey("audit_lake")

translator = TallyDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(dg.Config):
    """`full_refresh`: rebuild the incremental models from every date of the lake, not only
    the dates new batches touched (`tally run --full-refresh`)."""

    full_refresh: bool = False


@dbt_assets(
    manifest=tally_dbt_project.manifest_path,
    name="tally_dbt_models",
    dagster_dbt_translator=translator,
    pool="warehouse",
)
def tally_dbt_models(
    context: dg.AssetExecutionContext,
    config: DbtBuildConfig,
    dbt: DbtCliResource,
    settings: TallySettings,
):
    home = settings.tally_home
    if launched_by_cli(context.run):
        # `tally` runs every step in this process and the GX checks follow this one: import GX
        # (about 5 s) while dbt parses the project in its own process, leaving this one idle
        # (or, when dbt need not run, while the models are recorded as current). GX imports
        # SQLAlchemy's ORM, which registers itself with the SQLAlchemy that Dagster's event
        # log uses on this thread: half imported, it fails Dagster's queries ("partially
        # initialized module 'sqlalchemy.orm.exc'"). So the ORM is imported here, first.
        import sqlalchemy.orm  # noqa: F401

        import_in_background("great_expectations")
    project = models_fingerprint()
    duckdb = home.engine == "duckdb"
    if duckdb:
        _set_aside_unusable(context, home)
    selected = context.selected_asset_keys
    # A complete build: every model (the month-close audit aside, which only reads).
    whole = selected - {AUDIT} == set(context.assets_def.keys) - {AUDIT}
    nightly = whole and AUDIT not in selected
    if nightly and not config.full_refresh and unchanged_since_built(home, project):
        # Nothing a model reads has changed since the last complete build: the marts are
        # current. Recorded as materializations with that reason, so the checks downstream
        # still run against them (a run with nothing new reports what still stands).
        context.log.info("dbt not run: nothing new since the marts were last built")
        deps = {k: v for k, v in context.assets_def.asset_deps.items() if k in selected}
        order = TopologicalSorter({k: deps[k] & set(deps) for k in deps}).static_order()
        for key in order:  # upstream first, as Dagster requires
            yield dg.MaterializeResult(
                asset_key=key, metadata={"dbt": "not run: nothing new since the last build"}
            )
        return
    # On DuckDB readers never block the build and never see half of it: dbt builds a copy of
    # the warehouse, which replaces the live file in one rename when dbt is done. Spark builds
    # its tables in place, each model's table replaced as it is built: a reader during a Spark
    # build may see some marts already rebuilt and others not yet.
    try:
        build = start_build(home) if duckdb else build_path(home)
    except WarehouseBusy as exc:
        raise dg.Failure(description=str(exc)) from None
    # dbt is told the home by a profile naming it, never through the environment. No --vars per
    # run either: changing vars forces dbt to re-parse the whole project every time.
    profiles = write_run_profile(home, build, settings.duckdb_memory_limit)
    mark_building(home)
    # One target folder per home: dbt's partial parse carries over between runs, and build
    # output stays with the data instead of piling up in the repository. On a home's first
    # run, `tally` parsed the project while ingestion ran: dbt takes that parse.
    target = dbt_target(home)
    if adopt_parse(home):
        context.log.info("dbt: using the parse made while the exports were read")
    # Unit tests test the SQL, not the data: they run in the test suite, not every night.
    args = ["build", "--profiles-dir", str(profiles), "--exclude-resource-type", "unit_test"]
    if config.full_refresh:
        args.append("--full-refresh")
    # An earlier build's results must not pass for this one's if dbt stops before writing any.
    (target / RUN_RESULTS).unlink(missing_ok=True)
    invocation = dbt.cli(args, context=context, target_path=target, raise_on_error=False)
    peak = ChildPeak(invocation.process.pid)
    yield from invocation.stream()
    context.log.info(describe(peak.stop()))
    if duckdb:
        finish_build(home, build)
    if every_model_built(target):
        mark_built(home, project)  # the marts reflect this run's inputs (tests may have failed)
    error = invocation.get_error()
    if error is not None:
        stale = models_out_of_sync(target)
        if stale:
            raise dg.Failure(
                description=(
                    f"{', '.join(stale)}: the table an earlier version of tally built has other "
                    "columns; rebuild with `tally run --full-refresh` (issued invoices stay as "
                    "they are)"
                )
            ) from error
        raise error


def _set_aside_unusable(context: dg.AssetExecutionContext, home) -> None:
    """A warehouse or incremental store that cannot be read is set aside and built again,
    before anything decides from it that the marts are current."""
    try:
        for said in set_aside_unusable(home):
            context.log.warning(said)
    except WarehouseBusy as exc:
        raise dg.Failure(description=str(exc)) from None


RUN_RESULTS = "run_results.json"


def every_model_built(target: Path) -> bool:
    """Whether the dbt build that wrote `target` rebuilt every model it ran. No results means
    dbt stopped before building anything (a project that does not parse, a broken profile):
    its own error is raised next, and nothing is marked built."""
    results = _results(target)
    if results is None:
        return False
    models = [r["status"] for r in results if r["unique_id"].startswith("model.")]
    return bool(models) and all(status == "success" for status in models)


def models_out_of_sync(target: Path) -> list[str]:
    """The incremental models dbt refused to build because their table's columns differ from
    the model's (`on_schema_change: fail`): a new version of tally changed them, and only a
    full refresh rebuilds the table."""
    return sorted(
        r["unique_id"].rsplit(".", 1)[-1]
        for r in _results(target) or []
        if r["status"] == "error"
        and "schemas on this incremental model are out of sync" in (r.get("message") or "")
    )


def _results(target: Path) -> list[dict] | None:
    """The node results of the dbt build that wrote `target`; None if it wrote none."""
    body = read_json_record(target / RUN_RESULTS)
    return None if body is None else body.get("results", [])
