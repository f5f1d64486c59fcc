"""tally overrides a few private members of Dagster and dagster-dbt (for speed: see the classes
that do). A private member can vanish or change in any release without a deprecation warning, so
each one tally relies on is held here, by name and signature: an upgrade that drops or changes
one fails these tests loudly instead of silently skipping the override. When a public API
takes over one of these jobs, its test fails too, so the override can be replaced."""

import inspect
from functools import cached_property

import dagster
import dagster_dbt
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster_dbt import DbtCliResource

from orchestration.defs.resources import TallyDbtCliResource
from orchestration.event_log import PooledSqliteEventLogStorage
from orchestration.runner import DAGSTER_YAML


def _parameters(member) -> list[str]:
    return list(inspect.signature(member).parameters)


@pytest.mark.parametrize(
    ("member", "parameters", "overridden"),
    [
        ("run_connection", ["self", "run_id"], True),
        ("index_connection", ["self"], True),
        ("wipe", ["self"], True),
        ("dispose", ["self"], True),
        ("from_config_value", ["inst_data", "config_value"], True),
        ("conn_string_for_shard", ["self", "shard_name"], False),  # called
    ],
)
def test_the_sqlite_event_log_members_the_pooled_storage_relies_on_are_there(
    member, parameters, overridden
):
    assert _parameters(getattr(SqliteEventLogStorage, member)) == parameters
    assert (member in vars(PooledSqliteEventLogStorage)) == overridden


def test_the_event_log_index_shard_is_still_named_where_it_is_imported_from():
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME

    assert isinstance(INDEX_SHARD_NAME, str) and INDEX_SHARD_NAME


def test_no_public_sqlite_event_log_storage_to_subclass_instead():
    assert not [name for name in dir(dagster) if "EventLogStorage" in name]


def test_the_storages_the_home_configuration_names_import():
    """The home's dagster.yaml names Dagster's SQLite run and schedule storages by module."""
    import importlib

    named = [
        (line.split(":", 1)[1].strip(), following.split(":", 1)[1].strip())
        for line, following in zip(
            DAGSTER_YAML.splitlines(), DAGSTER_YAML.splitlines()[1:], strict=False
        )
        if line.strip().startswith("module:")
    ]
    assert len(named) == 3
    for module, cls in named:
        assert hasattr(importlib.import_module(module), cls), (module, cls)


def test_the_dbt_resource_members_tally_overrides_are_there():
    assert isinstance(inspect.getattr_static(DbtCliResource, "_cli_version"), cached_property)
    assert _parameters(DbtCliResource._initialize_dbt_core_adapter) == ["self", "args"]
    # Overridden, so the slow originals never run.
    assert inspect.getattr_static(TallyDbtCliResource, "_cli_version") is not (
        inspect.getattr_static(DbtCliResource, "_cli_version")
    )
    assert TallyDbtCliResource._initialize_dbt_core_adapter is not (
        DbtCliResource._initialize_dbt_core_adapter
    )


def test_no_public_way_yet_to_skip_the_dbt_version_probe_or_the_adapter():
    """If dagster-dbt adds a setting for either, use it instead of the private overrides."""
    fields = set(DbtCliResource.model_fields)
    assert not {f for f in fields if "version" in f or "adapter" in f}
    assert not [name for name in dir(dagster_dbt) if "Fusion" in name or "CoreVersion" in name]
