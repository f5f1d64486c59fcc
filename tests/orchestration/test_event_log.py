"""The home's Dagster instance: its configuration, and the event log that keeps its
connections open (orchestration/event_log.py) storing and reading runs as Dagster's does."""

import shutil

import dagster as dg
from dagster import DagsterInstance

from orchestration.event_log import OPEN_FILES, PooledSqliteEventLogStorage
from orchestration.runner import _prepare_dagster_home


@dg.op
def say_hello(context: dg.OpExecutionContext) -> str:
    context.log.info("hello from the op")
    return "hello"


@dg.job
def hello():
    say_hello()


def _messages(instance, run_id) -> list[str]:
    return [e.user_message for e in instance.all_logs(run_id)]


def test_runs_are_stored_and_read_back_through_the_pooled_event_log(tmp_path):
    dagster_home = _prepare_dagster_home(tmp_path)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        runs = [hello.execute_in_process(instance=instance).run_id for _ in range(OPEN_FILES + 2)]
        # More runs than files kept open: the first runs' engines were closed and reopened.
        for run_id in runs:
            assert "hello from the op" in _messages(instance, run_id)
            assert instance.get_run_by_id(run_id).is_success
    # Another process (the UI) reads the same files with Dagster's own storage.
    (dagster_home / "dagster.yaml").unlink()
    with DagsterInstance.from_config(str(dagster_home)) as plain:
        assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert "hello from the op" in _messages(plain, runs[0])
        assert len(plain.get_runs()) == len(runs)


def test_a_wiped_event_log_takes_new_runs_in_new_files(tmp_path):
    dagster_home = _prepare_dagster_home(tmp_path)
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        before = hello.execute_in_process(instance=instance).run_id
        instance.event_log_storage.wipe()
        assert _messages(instance, before) == []
        after = hello.execute_in_process(instance=instance).run_id
        assert "hello from the op" in _messages(instance, after)
    assert (dagster_home / "history" / "runs" / f"{after}.db").exists()


def test_a_home_that_moved_gets_its_storage_folders_again(tmp_path):
    first = _prepare_dagster_home(tmp_path / "here")
    with DagsterInstance.from_config(str(first)) as instance:
        run_id = hello.execute_in_process(instance=instance).run_id
    shutil.move(tmp_path / "here", tmp_path / "there")
    moved = _prepare_dagster_home(tmp_path / "there")
    assert str(tmp_path / "here") not in (moved / "dagster.yaml").read_text()
    with DagsterInstance.from_config(str(moved)) as instance:
        assert "hello from the op" in _messages(instance, run_id)
    assert not (tmp_path / "here").exists()
