"""Running a Dagster job in this process on one home: its instance, its lock, its log file,
and the alerts of what failed. The `tally` command (cli/) is built on this."""

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from lake.home import Home
from lake.records import write_text_atomically

DAGSTER_YAML = """\
# Written by tally (orchestration/runner.py), and again when it differs: runs from `tally run` /
# `tally close` are stored here and show in the UI.
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB has a single writer: one warehouse step at a time.
    default_limit: 1
# Dagster's SQLite storage in its usual folders; the event log keeps its connections open
# (orchestration/event_log.py).
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config:
    base_dir: {history}
event_log_storage:
  module: orchestration.event_log
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {runs}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config:
    base_dir: {schedules}
"""


class HomeBusy(Exception):
    """Another tally command holds the home; the message says which process, in one line."""


@dataclass(frozen=True)
class Finished:
    """A job run in this process: whether it succeeded, the alerts it raised, its id, and the
    steps it could not complete (failed for a reason other than their own failed checks)."""

    success: bool
    alerts: list
    run_id: str
    incomplete: list[str]
    log: Path | None = None


def _prepare_dagster_home(home: Path) -> Path:
    """The home's Dagster instance folder, with its configuration (no telemetry, one warehouse
    writer, the storage's folders) written when it is missing or differs (the storage's paths
    are absolute: a home that moved gets them again)."""
    dagster_home = (home / ".dagster").absolute()
    dagster_home.mkdir(parents=True, exist_ok=True)
    folders = {
        "history": dagster_home / "history",
        "runs": dagster_home / "history" / "runs",
        "schedules": dagster_home / "schedules",
    }
    wanted = DAGSTER_YAML.format(**{k: json.dumps(str(v)) for k, v in folders.items()})
    config = dagster_home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") != wanted:
        write_text_atomically(config, wanted)  # the UI, reading it meanwhile, sees one or the other
    return dagster_home


# How a live micro-batch names itself in the lock: a nightly waits for it (it takes seconds),
# where it refuses any other holder.
MICRO_BATCH = "a live micro-batch"
LIVE_JOB = "live_spend"


@contextlib.contextmanager
def _one_command_per_home(dagster_home: Path, *, what: str = "", wait_for_live=None):
    """Hold an exclusive lock on the home while a job runs: the warehouse has a single writer,
    and a second `tally run` or `tally close` would wait on it or collide. The operating system
    releases the lock when the process ends, however it ends. `what` names the holder; given
    `wait_for_live` (a callable told why), a command held up by a live micro-batch waits for
    it instead of refusing."""
    import fcntl

    with open(dagster_home / "tally.lock", "a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            if wait_for_live is None or MICRO_BATCH not in holder:
                raise HomeBusy(
                    f"another tally command is running in this home ({holder}); "
                    "wait for it to finish, then run this again"
                ) from None
            wait_for_live(f"waiting for {holder} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}" + (f", {what}" if what else ""))
        lock.flush()
        yield


def refuse_if_busy(home: Home, *, waits_for_live: bool = False) -> None:
    """Refuse now, before any output or work, when another tally command holds the home (the
    command takes the lock again when its job starts). A command that `waits_for_live` is not
    refused for a live micro-batch: it will wait for it."""
    if (home.dagster_home / "tally.lock").exists():
        with _one_command_per_home(
            home.dagster_home, wait_for_live=(lambda _why: None) if waits_for_live else None
        ):
            pass


def _abandon_interrupted_runs(instance) -> list[str]:
    """Mark runs that an earlier `tally` process started but never finished (it was killed) as
    failed, and free the concurrency slots they held. Called with the home's lock held, so no
    tally process is running any of them. Without this, a run killed inside the dbt step keeps
    the `warehouse` pool's only slot, and the next run waits for it forever."""
    from dagster import DagsterRunStatus, RunsFilter

    from orchestration.settings import CLI_TAG

    unfinished = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    abandoned = []
    for run in instance.get_runs(RunsFilter(statuses=unfinished, tags=CLI_TAG)):
        instance.report_run_failed(
            run, "the tally process running it ended before the run finished (killed?)"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        abandoned.append(run.run_id)
    return abandoned


def execute(
    home: Home,
    job_name: str,
    *,
    partition_key: str | None = None,
    tags: dict | None = None,
    full_refresh: bool = False,
    payment_terms_days: int = 30,
    progress=None,
    op_config: dict | None = None,
    announce: bool = True,
) -> Finished:
    """Run a job in this process on the home given, on its engine: its settings are the
    resources' config and its Dagster instance lives under the home (nothing is relayed through
    the environment). `progress` (cli/progress.py) hears the run's events as they happen."""
    import uuid

    from dagster import DagsterInstance

    from orchestration.definitions import build_defs
    from orchestration.settings import CLI_TAG, TallySettings
    from warehouse.parse_ahead import start_parse

    dagster_home = _prepare_dagster_home(home.root)
    if progress is not None:
        progress.say(f"loading the {job_name} job (Dagster, the dbt project)")
    settings = TallySettings(
        home=str(home.root), engine=home.engine, payment_terms_days=payment_terms_days
    )
    # The partitions start at the command's own first day (or month), else with the data.
    first = partition_key or (tags or {}).get("dagster/asset_partition_range_start")
    if first is None:
        from orchestration.defs.partitions import first_month

        first_day = first_month(home)
    else:
        first_day = dt.date.fromisoformat(first[:10])
    job = build_defs(settings, first_day).resolve_job_def(job_name)
    level = os.environ.get("TALLY_LOG_LEVEL", "WARNING").upper()
    # The CLI prints progress, the reason a run failed and a summary; step logs stay in the run
    # (and the UI), and dbt's output and Dagster's own error reports (a failed step's stack
    # trace, dbt's error stream) go to a log file under the home unless TALLY_LOG_LEVEL asks
    # for more.
    run_config: dict = {"loggers": {"console": {"config": {"log_level": level}}}}
    ops = dict(op_config or {})
    if full_refresh:
        ops["tally_dbt_models"] = {"config": {"full_refresh": True}}
    if ops:
        run_config["ops"] = ops
    log_dir = dagster_home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{job_name}.log"
    live = job_name == LIVE_JOB
    with (
        _one_command_per_home(
            dagster_home,
            what=MICRO_BATCH if live else job_name,
            # A nightly waits for a micro-batch to end; a micro-batch never starts inside another
            # command (it is refused, and `tally watch` looks again later).
            wait_for_live=None if live else (progress.say if progress is not None else print),
        ),
        open(log_path, "a", encoding="utf-8") as log,
        DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        for run_id in _abandon_interrupted_runs(instance):
            print(f"{job_name}: run {run_id[:8]} was interrupted earlier; marked failed")
        # A home's first dbt build would parse the project first: start that now, beside
        # the steps before dbt (warehouse/parse_ahead.py).
        start_parse(settings.tally_home, settings.duckdb_memory_limit)
        redirect = contextlib.ExitStack()
        if level in ("WARNING", "ERROR"):
            redirect.enter_context(contextlib.redirect_stdout(log))
            redirect.enter_context(contextlib.redirect_stderr(log))
        run_id = str(uuid.uuid4())
        if progress is not None:
            instance.add_event_listener(run_id, progress.on_event)
        with redirect:
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                run_id=run_id,
                partition_key=partition_key,
                tags={**(tags or {}), **CLI_TAG},
                raise_on_error=False,
            )
    if announce or not result.success:
        print(
            f"{job_name}: run {result.run_id[:8]} "
            f"{'succeeded' if result.success else 'failed'}; log {log_path}"
        )
    from orchestration.run_alerts import alerts_for_events, incomplete_steps, run_partition
    from publish.alerts import raise_alerts

    partition = partition_key or run_partition(tags or {})
    alerts = alerts_for_events(
        result.all_events, job=job_name, partition=partition, run_id=result.run_id
    )
    failed_webhooks = raise_alerts(home, alerts)
    if alerts:
        note = f"; webhook failed for {failed_webhooks}" if failed_webhooks else ""
        print(f"alerts: {len(alerts)} written to {home.alerts}{note}")
    return Finished(
        result.success, alerts, result.run_id, incomplete_steps(result.all_events), log_path
    )


def deliver_waiting(home: Home) -> list[str]:
    """What a run with nothing new still does: POST the spend notifications and alerts the
    webhooks have not taken yet, with the home's lock held. One line for each kind that had any
    waiting for a webhook that is set."""
    from publish.alerts import WEBHOOK_ENV as ALERT_WEBHOOK
    from publish.notifications import WEBHOOK_ENV as NOTIFY_WEBHOOK

    if not (os.environ.get(ALERT_WEBHOOK) or os.environ.get(NOTIFY_WEBHOOK)):
        return []  # nothing can be waiting for a webhook that is not set
    from publish.alerts import deliver_waiting_alerts
    from publish.notifications import deliver_waiting as deliver_notifications

    with _one_command_per_home(_prepare_dagster_home(home.root)):
        sent = deliver_notifications(home, now=dt.datetime.now(dt.UTC))
        alerts_taken, alerts_left = deliver_waiting_alerts(home)
    counts = {
        "spend notification": (sent.posted, sent.pending),
        "alert": (alerts_taken, alerts_left),
    }
    return [
        f"webhook: {taken} of {taken + left} waiting {what}(s) delivered"
        + (f"; {left} still waiting for the next run" if left else "")
        for what, (taken, left) in counts.items()
        if taken + left
    ]
